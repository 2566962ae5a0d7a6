/**
 * The change bus across nodes: PostgreSQL LISTEN/NOTIFY on one channel.
 *
 * Rules it keeps:
 * - publish() is synchronous and cheap: local listeners hear the change at
 *   once (an IMAP session on this node must not wait for a round trip), and
 *   the change is queued for NOTIFY. The queue is sent by one loop, in order,
 *   many changes per round trip, on the pool's connections.
 * - Every payload carries this bus's node id; the LISTEN connection drops
 *   notifications with its own id, so local listeners hear each change once.
 * - One dedicated connection (not from the pool: LISTEN is per session)
 *   receives the other nodes' changes. When it drops, it is opened again with
 *   exponential backoff (100 ms doubling to 5 s). Notifications sent while it
 *   was down are lost, so the bus remembers the HIGHESTMODSEQ of the
 *   mailboxes this node has looked at lately (every change heard, and what
 *   the store reports through track(): a SELECT reads the mailbox), and after
 *   reconnecting publishes a 'mailbox' change for each of them that moved on
 *   meanwhile: an IDLE session then syncs as if it had heard the change.
 * - A NOTIFY that fails (database down) is dropped after a warning: the
 *   change itself is committed, and sessions learn of it on their next poll.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { LocalBus, type ListenerErrorHandler } from '../bus.js';
import type { ChangeBus, MailboxChange } from '../types.js';
import { pgTypes } from './db.js';

export const CHANNEL = 'mailroom_changes';
/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; ours are ~100. */
const MAX_BATCH = 200;
/** Mailboxes remembered for the resync after a reconnect (least recently touched go first). */
const MAX_TRACKED = 50_000;

interface Payload {
  n: string; // node id
  c: MailboxChange;
}

export interface PgBusOptions {
  url: string;
  /** Pool used to send NOTIFY (the store's). */
  pool: pg.Pool;
  nodeId?: string;
  onListenerError?: ListenerErrorHandler;
  /** Warnings (NOTIFY failed, LISTEN connection lost); default: process warning. */
  onWarning?: (message: string) => void;
  /** Backoff bounds for reconnecting the LISTEN connection. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

function isChange(v: unknown): v is MailboxChange {
  const c = v as MailboxChange;
  return (
    !!c &&
    typeof c === 'object' &&
    Number.isSafeInteger(c.mailboxId) &&
    Number.isSafeInteger(c.userId) &&
    Number.isSafeInteger(c.highestModseq) &&
    (c.kind === 'append' || c.kind === 'flags' || c.kind === 'expunge' || c.kind === 'mailbox')
  );
}

export class PgBus implements ChangeBus {
  readonly nodeId: string;
  private readonly local: LocalBus;
  private readonly reconnectListeners = new Set<() => void>();
  /** mailboxId → what this node last knew of it (insertion order = recency). */
  private readonly tracked = new Map<number, { userId: number; highestModseq: number }>();
  private everConnected = false;
  private outbox: string[] = [];
  private sending: Promise<void> | null = null;
  private listener: pg.Client | null = null;
  private backoff: number;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readyResolve!: () => void;
  /** Resolves once the LISTEN connection is up the first time. */
  readonly ready: Promise<void>;
  private warn: (m: string) => void;

  constructor(private readonly opts: PgBusOptions) {
    this.nodeId = opts.nodeId ?? randomUUID();
    this.local = new LocalBus(opts.onListenerError);
    this.backoff = opts.minBackoffMs ?? 100;
    this.warn = opts.onWarning ?? ((m) => process.emitWarning(m, 'MailroomBusWarning'));
    this.ready = new Promise((r) => (this.readyResolve = r));
    void this.connect();
  }

  publish(change: MailboxChange): void {
    if (this.closed) return;
    this.track(change.mailboxId, change.userId, change.highestModseq);
    this.local.publish(change);
    this.outbox.push(JSON.stringify({ n: this.nodeId, c: change } satisfies Payload));
    this.sending ??= this.flush();
  }

  subscribe(listener: (change: MailboxChange) => void): () => void {
    return this.local.subscribe(listener);
  }

  /** Remember a mailbox's state, so a reconnect can tell whether it moved on unheard. */
  track(mailboxId: number, userId: number, highestModseq: number): void {
    const prev = this.tracked.get(mailboxId);
    this.tracked.delete(mailboxId);
    this.tracked.set(mailboxId, { userId, highestModseq: Math.max(highestModseq, prev?.highestModseq ?? 0) });
    if (this.tracked.size > MAX_TRACKED) this.tracked.delete(this.tracked.keys().next().value!);
  }

  /** Called after the LISTEN connection came back (after the resync of tracked mailboxes). */
  onReconnect(fn: () => void): () => void {
    this.reconnectListeners.add(fn);
    return () => void this.reconnectListeners.delete(fn);
  }

  /** True while the LISTEN connection is up. */
  get listening(): boolean {
    return this.listener !== null;
  }

  /** The backend pid of the LISTEN connection (tests terminate it to check reconnection). */
  get listenerPid(): number | null {
    return (this.listener as unknown as { processID?: number } | null)?.processID ?? null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    // Send what is queued before the pool goes away.
    await this.sending?.catch(() => {});
    const l = this.listener;
    this.listener = null;
    await l?.end().catch(() => {});
    await this.local.close();
    this.readyResolve();
  }

  private async flush(): Promise<void> {
    try {
      while (this.outbox.length > 0) {
        const batch = this.outbox.splice(0, MAX_BATCH);
        try {
          await this.opts.pool.query({
            name: 'mr_bus_notify',
            text: `SELECT pg_notify('${CHANNEL}', p) FROM unnest($1::text[]) WITH ORDINALITY AS t(p, i) ORDER BY i`,
            values: [batch],
          });
        } catch (err) {
          this.warn(`could not send ${batch.length} change notification(s) to other nodes: ${(err as Error).message}`);
        }
      }
    } finally {
      this.sending = null;
    }
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.opts.url, types: pgTypes, application_name: 'mailroom-bus', keepAlive: true });
    let failed = false;
    const onDown = (why: string) => {
      if (failed) return;
      failed = true;
      if (this.listener === client) this.listener = null;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (this.closed) return;
      this.warn(`change bus: LISTEN connection lost (${why}); reconnecting in ${this.backoff} ms`);
      this.scheduleReconnect();
    };
    client.on('error', (err) => onDown(err.message));
    client.on('end', () => onDown('connection ended'));
    client.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      let p: Payload;
      try {
        p = JSON.parse(msg.payload) as Payload;
      } catch {
        return;
      }
      if (p.n === this.nodeId || !isChange(p.c)) return;
      this.track(p.c.mailboxId, p.c.userId, p.c.highestModseq);
      this.local.publish(p.c);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      onDown((err as Error).message);
      return;
    }
    if (failed) return;
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.listener = client;
    this.backoff = this.opts.minBackoffMs ?? 100;
    this.readyResolve();
    if (reconnected) {
      await this.resync().catch((err: Error) => this.warn(`change bus: resync after reconnect failed: ${err.message}`));
      for (const fn of [...this.reconnectListeners]) {
        try {
          fn();
        } catch {
          // a listener's failure is its own business
        }
      }
    }
  }

  /** Publishes locally a 'mailbox' change for every tracked mailbox that moved on (or went) while we were deaf. */
  private async resync(): Promise<void> {
    const ids = [...this.tracked.keys()];
    for (let i = 0; i < ids.length && !this.closed; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      const r = await this.opts.pool.query<{ id: number; user_id: number; highest_modseq: number }>({
        name: 'mr_bus_resync',
        text: 'SELECT id, user_id, highest_modseq FROM mailboxes WHERE id = ANY($1::bigint[])',
        values: [chunk],
      });
      const found = new Map(r.rows.map((row) => [Number(row.id), row]));
      for (const id of chunk) {
        const known = this.tracked.get(id);
        if (!known) continue;
        const now = found.get(id);
        if (!now) {
          this.tracked.delete(id);
          this.local.publish({ mailboxId: id, userId: known.userId, highestModseq: known.highestModseq, kind: 'mailbox' });
        } else if (Number(now.highest_modseq) > known.highestModseq) {
          known.highestModseq = Number(now.highest_modseq);
          this.local.publish({ mailboxId: id, userId: known.userId, highestModseq: known.highestModseq, kind: 'mailbox' });
        }
      }
    }
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs ?? 5000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }
}
