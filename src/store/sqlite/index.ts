/**
 * The SQLite Store: mailroom's default, one file next to a blob directory.
 *
 * better-sqlite3 is synchronous, so every method runs to completion inside one
 * call and transactions never interleave within a process; across processes
 * (cluster workers sharing the file) BEGIN IMMEDIATE plus busy_timeout
 * serialise writers while WAL lets readers go on. Deliveries and appends
 * arriving together share one commit (group commit, db.ts), and the substring
 * search index is built after the commit (search-index.ts), so the SMTP hot
 * path costs a few statements and a share of one fsync per message.
 *
 * The methods are split by area (accounts, mailboxes, messages, message-ops,
 * search, queue, policy, external, gc); this file opens the database, runs the
 * migrations and puts them together. The rules every Store keeps are in
 * ../types.ts; the schema is ../migrations/sqlite.ts.
 */
import type { BlobStore, ChangeBus, Store } from '../types.js';
import { accountsApi } from './accounts.js';
import { createCtx, openDatabase } from './db.js';
import { externalApi } from './external.js';
import { gcApi } from './gc.js';
import { mailboxesApi } from './mailboxes.js';
import { messageOpsApi } from './message-ops.js';
import { messagesApi } from './messages.js';
import { migrate } from './migrate.js';
import { policyApi } from './policy.js';
import { queueApi } from './queue.js';
import { registerSearchFunctions, searchApi } from './search.js';
import { pendingCount, startSearchIndexer } from './search-index.js';

export interface SqliteStoreOptions {
  /** Database file; created if missing. */
  path: string;
  blobs: BlobStore;
  bus: ChangeBus;
  /** How long a writer waits for another process's transaction (default 15 s). */
  busyTimeoutMs?: number;
  /**
   * When the substring search index is written: 'background' (default) after
   * the delivery commits, in slices, while the process is idle; 'inline' in
   * the delivery transaction; 'manual' only when indexSearchText() is called
   * (bulk imports, tests). Search answers are the same in every case.
   */
  searchIndex?: 'background' | 'inline' | 'manual';
}

/** The SQLite Store, plus what only it has. */
export interface SqliteStore extends Store {
  /** Index every blob still waiting for the search index; resolves with how many. */
  indexSearchText(): Promise<number>;
  /** Blobs waiting for the search index. */
  searchIndexPending(): Promise<number>;
}

export async function openSqliteStore(opts: SqliteStoreOptions): Promise<SqliteStore> {
  const db = openDatabase(opts.path, { busyTimeoutMs: opts.busyTimeoutMs });
  try {
    registerSearchFunctions(db);
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  const ctx = createCtx(db, opts.blobs, opts.bus);
  ctx.indexInline = opts.searchIndex === 'inline';
  const indexer = startSearchIndexer(ctx);
  if (opts.searchIndex === 'manual') indexer.stop();
  else if (!ctx.indexInline) {
    ctx.afterDeliver = indexer.poke;
    setImmediate(() => indexer.poke()); // whatever an earlier run or another process left pending
  }
  let closed = false;

  const store: SqliteStore = {
    kind: 'sqlite',
    blobs: opts.blobs,
    bus: opts.bus,
    async migrate() {
      return migrate(db);
    },
    async close() {
      if (closed) return;
      closed = true;
      ctx.flushBatched();
      indexer.stop();
      db.close();
      await opts.blobs.close();
    },
    ...accountsApi(ctx),
    ...mailboxesApi(ctx),
    ...messagesApi(ctx),
    ...messageOpsApi(ctx),
    ...searchApi(ctx),
    ...queueApi(ctx),
    ...policyApi(ctx),
    ...externalApi(ctx),
    ...gcApi(ctx),
    async indexSearchText() {
      return indexer.drain();
    },
    async searchIndexPending() {
      return pendingCount(ctx);
    },
  };
  return store;
}
