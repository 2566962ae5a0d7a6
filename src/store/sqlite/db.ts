/**
 * The SQLite connection and the few rules every area file relies on:
 * - Pragmas: WAL (readers never block the writer), synchronous=FULL (a commit
 *   that returned survives a power cut: SMTP says 250 only after it), a busy
 *   timeout (several worker processes open the same file) and foreign keys.
 * - Statements are prepared once and cached by their SQL text.
 * - write(fn) runs fn in one BEGIN IMMEDIATE transaction (taking the write lock
 *   up front, so two processes never deadlock upgrading a read lock); changes
 *   queued with emit() are published on the bus only after the commit, and
 *   dropped if the transaction rolls back. write() inside write() joins the
 *   outer transaction.
 * - writeBatched(fn) is group commit for the hot path (deliver, append): calls
 *   made in the same turn of the event loop share one transaction and so one
 *   fsync, each inside its own SAVEPOINT, so one call that throws rolls back
 *   only its own work. Every promise settles after the commit.
 */
import Database from 'better-sqlite3';
import type { BlobStore, ChangeBus, MailboxChange } from '../types.js';

export type Db = Database.Database;
export type Statement = Database.Statement;

export interface Ctx {
  db: Db;
  blobs: BlobStore;
  bus: ChangeBus;
  stmt(sql: string): Statement;
  write<T>(fn: () => T): T;
  writeBatched<T>(fn: () => T): Promise<T>;
  /** Commit queued writeBatched calls now (before close). */
  flushBatched(): void;
  /** Queue a change notification for after the commit (only inside write()). */
  emit(change: MailboxChange): void;
  now(): number;
  /** Write search index entries inside the delivery transaction (else: background, search-index.ts). */
  indexInline: boolean;
  /** Called after commits that left blobs to index. */
  afterDeliver(count: number): void;
}

export function openDatabase(path: string, opts: { busyTimeoutMs?: number } = {}): Db {
  const db = new Database(path);
  db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 15000}`);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('temp_store = MEMORY');
  db.pragma('cache_size = -32000'); // 32 MB page cache
  return db;
}

export function createCtx(db: Db, blobs: BlobStore, bus: ChangeBus): Ctx {
  const cache = new Map<string, Statement>();
  const runInTx = db.transaction((fn: () => unknown) => fn());
  let pending: MailboxChange[] | null = null;
  let queue: Array<{ fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];

  const flush = () => {
    const items = queue;
    queue = [];
    const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    pending = [];
    let events: MailboxChange[];
    try {
      runInTx.immediate(() => {
        for (const item of items) {
          const mark = pending!.length;
          try {
            // Nested transaction function = SAVEPOINT: a throw undoes this item only.
            results.push({ ok: true, value: runInTx(item.fn) });
          } catch (error) {
            pending!.length = mark;
            results.push({ ok: false, error });
          }
        }
      });
      events = pending;
    } catch (error) {
      for (const item of items) item.reject(error);
      return;
    } finally {
      pending = null;
    }
    publishAll(bus, events);
    ctx.afterDeliver(items.length);
    items.forEach((item, i) => {
      const r = results[i]!;
      if (r.ok) item.resolve(r.value);
      else item.reject(r.error);
    });
  };

  const ctx: Ctx = {
    db,
    blobs,
    bus,
    stmt(sql) {
      let s = cache.get(sql);
      if (!s) {
        s = db.prepare(sql);
        cache.set(sql, s);
      }
      return s;
    },
    write<T>(fn: () => T): T {
      if (pending) return fn();
      pending = [];
      let events: MailboxChange[];
      let result: T;
      try {
        result = runInTx.immediate(fn) as T;
        events = pending;
      } finally {
        pending = null;
      }
      publishAll(bus, events);
      return result;
    },
    writeBatched<T>(fn: () => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (queue.length === 0) setImmediate(() => queue.length > 0 && flush());
        queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      });
    },
    flushBatched() {
      if (queue.length > 0) flush();
    },
    emit(change) {
      if (!pending) throw new Error('emit() outside write()');
      pending.push(change);
    },
    now: () => Date.now(),
    indexInline: true,
    afterDeliver: () => {},
  };
  return ctx;
}

/** After a commit nothing may throw: the caller's change is durable whatever a bus does. */
function publishAll(bus: ChangeBus, events: MailboxChange[]): void {
  for (const change of coalesce(events)) {
    try {
      bus.publish(change);
    } catch {
      // A bus that throws (e.g. a closed relay) must not turn a committed change into an error.
    }
  }
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

/** JSON array parameter for `IN (SELECT value FROM json_each(?))`. */
export function jsonList(values: readonly (number | string)[]): string {
  return JSON.stringify(values);
}
