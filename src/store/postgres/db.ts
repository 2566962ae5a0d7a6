/**
 * The PostgreSQL connection pool and the few rules every area file relies on:
 * - int8 (BIGINT: ids, dates in epoch ms, sizes, UIDs, MODSEQs) comes back as
 *   a JavaScript number, not a string; only this pool's connections are
 *   affected (the type parser is per pool, not pg's global one).
 * - Statements are named after a hash of their text, so each connection
 *   parses and plans them once (pg prepares named statements per client).
 * - tx(fn) runs fn in one READ COMMITTED transaction on one connection;
 *   changes queued with emit() are published on the bus only after COMMIT,
 *   and dropped on ROLLBACK. Concurrency between nodes is row locks: writers
 *   lock what they change in one global order (users by id, then mailboxes
 *   by id, then blob rows), so they queue instead of deadlocking. A deadlock,
 *   serialization failure or unique violation (two nodes inserting the same
 *   name at once) retries the whole function a few times; the retry sees the
 *   other node's committed row and answers as if it had come second.
 * - Errors PostgreSQL raises for bad input (NUL in text, out-of-range
 *   numbers) become StoreError 'invalid'; a lost connection 'unavailable'.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { StoreError } from '../errors.js';
import type { BlobStore, ChangeBus, MailboxChange } from '../types.js';
import { isConnectionLost, queryWithReconnect } from './retry.js';

export type Row = Record<string, unknown>;

export interface Queryable {
  /** All rows. */
  q<T = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  /** The first row, or undefined. */
  one<T = Row>(sql: string, params?: unknown[]): Promise<T | undefined>;
  /** Rows affected. */
  run(sql: string, params?: unknown[]): Promise<number>;
}

export interface Tx extends Queryable {
  /** Queue a change notification for after the commit. */
  emit(change: MailboxChange): void;
}

export interface Ctx extends Queryable {
  pool: pg.Pool;
  blobs: BlobStore;
  bus: ChangeBus;
  tx<T>(fn: (t: Tx) => Promise<T>): Promise<T>;
  now(): number;
  /** Resolves when no transaction or query started through this context is in flight. */
  drain(): Promise<void>;
}

const int8 = (v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new StoreError('invalid', `a stored integer is out of range: ${v}`);
  return n;
};

/** pg type overrides for this store's connections only. */
export const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 && format !== 'binary') return int8;
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as pg.CustomTypesConfig;

export function createPool(url: string, opts: { max?: number; applicationName?: string } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 4,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    application_name: opts.applicationName ?? 'mailroom',
    types: pgTypes,
    keepAlive: true,
    // A node that stops mid-transaction (frozen, partitioned) must not hold its row locks for ever:
    // the server ends such a session after a minute and the other nodes go on.
    idle_in_transaction_session_timeout: 60_000,
  });
  // An idle client that loses its connection emits 'error' on the pool; without
  // a listener that would crash the process. The next query gets a new client.
  pool.on('error', () => {});
  return pool;
}

const names = new Map<string, string>();
/** Stable statement name for a SQL text. */
function statementName(sql: string): string {
  let n = names.get(sql);
  if (!n) {
    n = 'mr_' + createHash('sha1').update(sql).digest('hex').slice(0, 20);
    names.set(sql, n);
  }
  return n;
}

type Client = pg.Pool | pg.PoolClient;

/** Named (prepared) unless dynamic: compiled search SQL varies per key, so it is sent unnamed. */
async function exec(c: Client, sql: string, params: unknown[] = [], prepared = true): Promise<pg.QueryResult> {
  const config: pg.QueryConfig = prepared ? { name: statementName(sql), text: sql, values: params } : { text: sql, values: params };
  try {
    // On the pool (not inside a transaction) a statement that met a dead connection is sent again.
    return c instanceof pg.Pool ? await queryWithReconnect(c, config) : await c.query(config);
  } catch (err) {
    throw translate(err);
  }
}

export function queryable(c: Client, prepared = true): Queryable {
  return {
    q: async <T>(sql: string, params?: unknown[]) => (await exec(c, sql, params, prepared)).rows as T[],
    one: async <T>(sql: string, params?: unknown[]) => (await exec(c, sql, params, prepared)).rows[0] as T | undefined,
    run: async (sql: string, params?: unknown[]) => (await exec(c, sql, params, prepared)).rowCount ?? 0,
  };
}

/** SQLSTATEs after which the whole transaction is worth running again. */
const RETRY = new Set(['40001', '40P01', '23505']);
const MAX_ATTEMPTS = 8;

function translate(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  const e = err as { code?: string; message?: string };
  switch (e.code) {
    case '22021': // character not in repertoire (NUL in text)
    case '22P05': // untranslatable character
    case '22003': // numeric value out of range
    case '22P02': // invalid text representation
    case '54000': // program limit exceeded (a statement too large)
    case '54001': // statement too complex (stack depth)
      return new StoreError('invalid', `the database refused a value: ${e.message}`);
    case '23505': // unique violation that survived the retries
      return new StoreError('exists', `already exists: ${e.message}`);
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case '57P01': // admin shutdown
    case '57P03': // cannot connect now
      return new StoreError('unavailable', `the database is unavailable: ${e.message}`);
    default:
      if (isConnectionLost(err)) return new StoreError('unavailable', `the database connection was lost: ${e.message}`);
      // pg-pool: no connection came free (or could be opened) within connectionTimeoutMillis.
      if (!e.code && /timeout exceeded when trying to connect/i.test(e.message ?? '')) return new StoreError('unavailable', 'the database is busy or unreachable');
      return err;
  }
}

export function createCtx(pool: pg.Pool, blobs: BlobStore, bus: ChangeBus): Ctx {
  const base = queryable(pool);

  async function tx<T>(fn: (t: Tx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw translate(err);
      }
      const events: MailboxChange[] = [];
      const t: Tx = { ...queryable(client), emit: (c) => void events.push(c) };
      let result: T;
      try {
        await client.query('BEGIN');
      } catch (err) {
        // A dead pooled connection: nothing ran yet, so take a fresh one.
        client.release(true);
        if (isConnectionLost(err) && attempt < MAX_ATTEMPTS) continue;
        throw translate(err);
      }
      try {
        result = await fn(t);
        await client.query('COMMIT');
      } catch (err) {
        // A broken connection cannot roll back; release it destroyed so the pool drops it.
        const broken = await client.query('ROLLBACK').then(
          () => false,
          () => true,
        );
        client.release(broken ? true : undefined);
        const code = (err as { code?: string }).code;
        if (code && RETRY.has(code) && attempt < MAX_ATTEMPTS) {
          // Back off a little (with jitter) so the writers we collided with finish first.
          await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
          continue;
        }
        throw translate(err);
      }
      client.release();
      for (const change of coalesce(events)) {
        // The change is committed: a bus that throws must not make the caller believe it failed.
        try {
          bus.publish(change);
        } catch {
          // listeners learn of it on their next sync
        }
      }
      return result;
    }
  }

  // Work in flight, so close() can let it finish before the pool goes away.
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    const done = () => void inFlight.delete(p);
    p.then(done, done);
    return p;
  };

  return {
    q: (sql, params) => track(base.q(sql, params)),
    one: (sql, params) => track(base.one(sql, params)),
    run: (sql, params) => track(base.run(sql, params)),
    pool,
    blobs,
    bus,
    tx: (fn) => track(tx(fn)),
    now: () => Date.now(),
    async drain() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

/** One event per mailbox and kind, carrying the final HIGHESTMODSEQ. */
function coalesce(events: MailboxChange[]): MailboxChange[] {
  if (events.length <= 1) return events;
  const byKey = new Map<string, MailboxChange>();
  for (const e of events) {
    const key = `${e.mailboxId}:${e.kind}`;
    const prev = byKey.get(key);
    if (!prev || prev.highestModseq <= e.highestModseq) {
      byKey.delete(key);
      byKey.set(key, e);
    }
  }
  return [...byKey.values()];
}

/** Pattern for `col LIKE $n`: a substring match of `s` (its %, _ and \ escaped). */
export function likeContains(s: string): string {
  return `%${s.replace(/[\\%_]/g, (c) => '\\' + c)}%`;
}

/** Strips NUL, which PostgreSQL text refuses (it means nothing in mail text). */
export function noNul(s: string): string {
  return s.includes('\u0000') ? s.replace(/\u0000/g, '') : s;
}
