/**
 * The PostgreSQL Store: several mailroom nodes sharing one database.
 *
 * The twin of the SQLite store (same schema, version for version, and the same
 * contract suite), with what several nodes need on top: every mutation is one
 * transaction on one pooled connection, concurrent writers serialise on row
 * locks taken in one global order (users, mailboxes by id, blobs by id, see
 * db.ts), the queue is claimed with FOR UPDATE SKIP LOCKED, locks are atomic
 * upserts, and changes reach the other nodes by LISTEN/NOTIFY (bus.ts) unless
 * the caller brings its own bus. The methods are split by area as in the
 * SQLite store; this file opens the pool, runs the migrations and puts them
 * together. The rules every Store keeps are in ../types.ts.
 */
import { createPostgresBlobStore } from '../blobs/postgres.js';
import type { BlobStore, ChangeBus, Store } from '../types.js';
import { accountsApi } from './accounts.js';
import { PgBus } from './bus.js';
import { createCtx, createPool } from './db.js';
import { externalApi } from './external.js';
import { gcApi } from './gc.js';
import { mailboxesApi } from './mailboxes.js';
import { messageOpsApi } from './message-ops.js';
import { messagesApi } from './messages.js';
import { migrate } from './migrate.js';
import { policyApi } from './policy.js';
import { queueApi } from './queue.js';
import type { MailboxRow } from './rows.js';
import { searchApi } from './search.js';
import { createTextLoader } from './sync-text.js';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database (libpq parameters such as sslmode are understood). */
  url: string;
  /** 'postgres': bodies in the same database (blobs/postgres.ts); or any BlobStore (a shared directory). */
  blobs: 'postgres' | BlobStore;
  /** A bus to publish on instead of this store's own LISTEN/NOTIFY bus. */
  bus?: ChangeBus;
  /** Connections in the pool (default 4: the machines are small and PostgreSQL's connections are not free). */
  poolSize?: number;
  /** Node id carried in NOTIFY payloads (default: random per store). */
  nodeId?: string;
}

export async function openPostgresStore(opts: PostgresStoreOptions): Promise<Store> {
  const pool = createPool(opts.url, { max: opts.poolSize ?? 4 });
  // Like the SQLite store, an opened store is a migrated one (the runner is a no-op when up to date).
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  const blobs = opts.blobs === 'postgres' ? createPostgresBlobStore(pool) : opts.blobs;
  const ownBus = opts.bus ? null : new PgBus({ url: opts.url, pool, nodeId: opts.nodeId });
  const bus: ChangeBus = opts.bus ?? ownBus!;
  const ctx = createCtx(pool, blobs, bus);
  const texts = createTextLoader(opts.url);
  // Mailboxes a session reads (SELECT, STATUS) are remembered for the bus's resync after a reconnect.
  const onRead = ownBus ? (r: MailboxRow) => ownBus.track(r.id, r.user_id, r.highest_modseq) : undefined;
  let closed = false;

  const store: Store = {
    kind: 'postgres',
    blobs,
    bus,
    async migrate() {
      return migrate(pool);
    },
    async close() {
      if (closed) return;
      closed = true;
      // Let accepted work commit (a delivery in flight must not be lost to a shutdown).
      await ctx.drain();
      await ownBus?.close();
      await texts.close();
      await blobs.close();
      await pool.end();
    },
    ...accountsApi(ctx),
    ...mailboxesApi(ctx, { onRead }),
    ...messagesApi(ctx, texts, { onRead }),
    ...messageOpsApi(ctx),
    ...searchApi(ctx),
    ...queueApi(ctx),
    ...policyApi(ctx),
    ...externalApi(ctx),
    ...gcApi(ctx),
  };
  return store;
}
