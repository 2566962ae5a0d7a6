/**
 * Test support: a throw-away database per test run on the PostgreSQL server
 * the tests use (MAILROOM_TEST_PG_URL, default the local server as postgres),
 * and the rule for when PostgreSQL tests may skip: only when the server is
 * unreachable AND process.env.CI !== 'true' (under CI they must run).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_ADMIN_URL = process.env.MAILROOM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function pgReachable(url = PG_ADMIN_URL): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

/** Why a PostgreSQL test skips, or null when it must run (reachable, or under CI where nothing skips). */
export async function pgSkipReason(): Promise<string | null> {
  if (process.env.CI === 'true' || (await pgReachable())) return null;
  return `PostgreSQL is not reachable at ${PG_ADMIN_URL.replace(/:[^:@/]*@/, ':***@')} (set MAILROOM_TEST_PG_URL); skipped outside CI`;
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** Creates mailroom_test_<pid>_<random> and returns its URL; drop() removes it (closing leftover sessions). */
export async function createTestDatabase(prefix = 'mailroom_test'): Promise<TestDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
