/**
 * Applies src/store/migrations/sqlite.ts in order. Each migration runs in its
 * own IMMEDIATE transaction together with its schema_version row, and the
 * current version is re-read inside that transaction, so several processes
 * starting at once apply each migration exactly once.
 */
import { sqliteMigrations, type Migration } from '../migrations/sqlite.js';
import type { Db } from './db.js';

export function currentVersion(db: Db): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const row = db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null };
  return row.v ?? 0;
}

export function migrate(db: Db, migrations: Migration[] = sqliteMigrations): number {
  let version = currentVersion(db);
  const latest = migrations.at(-1)?.version ?? 0;
  if (version > latest) {
    throw new Error(`the database schema is version ${version}, newer than this mailroom (${latest}); upgrade mailroom`);
  }
  for (const m of migrations) {
    if (m.version <= version) continue;
    const apply = db.transaction(() => {
      const now = (db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
      if (m.version <= now) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    });
    apply.immediate();
    version = m.version;
  }
  return currentVersion(db);
}
