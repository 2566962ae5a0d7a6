/**
 * Applies src/store/migrations/postgres.ts in order. Several nodes may start
 * at once against one database: the whole run holds a session advisory lock,
 * so one node migrates while the others wait and then find nothing to do.
 * Each migration runs in its own transaction together with its schema_version
 * row (PostgreSQL DDL is transactional: a failed migration leaves nothing).
 */
import type pg from 'pg';
import { postgresMigrations, type Migration } from '../migrations/postgres.js';

/** The advisory lock key: "mailroom" as a 63-bit number, the same on every node. */
export const MIGRATION_LOCK_KEY = 0x6d61696c726f6f6dn & 0x7fffffffffffffffn;

const VERSION_TABLE = 'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)';

async function readVersion(client: pg.PoolClient): Promise<number> {
  const r = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_version');
  return Number(r.rows[0]?.v ?? 0);
}

export async function currentVersion(pool: pg.Pool): Promise<number> {
  const r = await pool.query<{ t: string | null }>(`SELECT to_regclass('schema_version')::text AS t`);
  if (!r.rows[0]?.t) return 0;
  const v = await pool.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_version');
  return Number(v.rows[0]?.v ?? 0);
}

export async function migrate(pool: pg.Pool, migrations: Migration[] = postgresMigrations): Promise<number> {
  const latest = migrations.at(-1)?.version ?? 0;
  // Fast path: nothing to do, no lock taken (every node start and CLI command).
  const seen = await currentVersion(pool);
  if (seen > latest) throw new Error(`the database schema is version ${seen}, newer than this mailroom (${latest}); upgrade mailroom`);
  if (seen === latest) return seen;

  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    try {
      await client.query(VERSION_TABLE);
      let version = await readVersion(client);
      if (version > latest) throw new Error(`the database schema is version ${version}, newer than this mailroom (${latest}); upgrade mailroom`);
      for (const m of migrations) {
        if (m.version <= version) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {
            broken = true;
          });
          const hint = /extension "pg_trgm"/.test((err as Error).message)
            ? ' (mailroom needs the pg_trgm extension: have a superuser run CREATE EXTENSION pg_trgm in this database once, or make the mailroom user its owner)'
            : '';
          throw new Error(`migration ${m.version} (${m.name}) failed: ${(err as Error).message}${hint}`);
        }
        version = m.version;
      }
      return version;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]).catch(() => {
        broken = true;
      });
    }
  } finally {
    // A broken session may still hold the lock: destroy it rather than pool it.
    client.release(broken || undefined);
  }
}
