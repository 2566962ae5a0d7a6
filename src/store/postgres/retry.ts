/**
 * Which failures mean "the connection went away" rather than "the statement
 * was wrong": after a server restart or a killed backend, an idle pooled
 * connection is dead, and the first statement sent on it gets the server's
 * farewell (57P01) or a client-side "connection terminated". Such a statement
 * was never run, so it is sent once more on a fresh connection.
 */
import type pg from 'pg';

/** More than a pool's worth of dead connections. */
const MAX_ATTEMPTS = 8;
const LOST_MESSAGES = /Connection terminated|not queryable|ECONNRESET|EPIPE/i;

export function isConnectionLost(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  if (e.code === '57P01' || e.code === '57P02' || e.code === '57P03' || e.code?.startsWith('08') || e.code === 'ECONNRESET' || e.code === 'EPIPE') return true;
  return !e.code && LOST_MESSAGES.test(e.message ?? '');
}

/** pool.query, sent again on another connection while the ones it meets turn out dead. */
export async function queryWithReconnect<R extends pg.QueryResultRow = pg.QueryResultRow>(
  pool: pg.Pool,
  config: pg.QueryConfig,
): Promise<pg.QueryResult<R>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await pool.query<R>(config);
    } catch (err) {
      // Each dead connection leaves the pool as it fails; a fresh one is opened when none is left.
      if (!isConnectionLost(err) || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}

/**
 * Runs fn inside BEGIN/COMMIT on one pooled connection. A connection found
 * dead at BEGIN (nothing ran yet) is dropped and a fresh one taken; on any
 * other failure the transaction is rolled back (or the connection dropped if
 * even that fails) and the error goes to the caller.
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
    } catch (err) {
      client.release(true);
      if (isConnectionLost(err) && attempt < MAX_ATTEMPTS) continue;
      throw err;
    }
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (err) {
      const broken = await client.query('ROLLBACK').then(
        () => false,
        () => true,
      );
      client.release(broken || undefined);
      throw err;
    }
  }
}
