/**
 * Connection slots and connection reuse for outbound delivery.
 *
 * Rules it keeps:
 * - Never more than `perHost` connections open to one remote host (or one
 *   smarthost) at once, counting idle ones and ones still saying QUIT (a slot
 *   is free only when the socket is gone): providers answer the sixth with
 *   421, and a polite client never sees that.
 * - Never more than `total` connections open overall (config queue.concurrency).
 * - A connection carries at most `perConnection` messages, then is closed
 *   (config queue.messagesPerConnection), as Postfix's smtp_connection_reuse_count_limit.
 * - An idle connection is kept a short while (2 s, Postfix's
 *   smtp_connection_cache_time_limit) for the next message to that host, then
 *   closed with QUIT. A waiter for another host that is blocked only by the
 *   total limit gets room by closing an idle connection.
 * - Waiters are served first come, first served, among those whose host has room.
 */
import type { OutboundConnection } from './connection.js';

/** The pool was closed (shutdown) before a slot came free: the message was not tried. */
export class PoolClosedError extends Error {
  constructor() {
    super('connection pool closed');
    this.name = 'PoolClosedError';
  }
}

export interface Slot {
  readonly key: string;
  /** A reused, still-open connection; null when the holder must open one. */
  readonly connection: OutboundConnection | null;
}

interface Waiter {
  key: string;
  grant: (slot: Slot) => void;
  fail: (err: Error) => void;
}

interface Idle {
  connection: OutboundConnection;
  timer: NodeJS.Timeout;
}

export interface PoolLimits {
  perHost: number;
  total: number;
  perConnection: number;
  idleMs?: number;
}

export class ConnectionPool {
  /** Open or being-opened connections per host, idle ones included. */
  private readonly open = new Map<string, number>();
  private readonly idle = new Map<string, Idle[]>();
  /** Waiters per host, hosts in the order their first waiter came (Map order): served round-robin. */
  private readonly waiters = new Map<string, Waiter[]>();
  private waiting = 0;
  private totalOpen = 0;
  /** Idle connections being closed to make room for a waiter of another host. */
  private closingForRoom = 0;
  private closed = false;
  /** The most connections ever open at once to each host (for tests and stats). */
  readonly peak = new Map<string, number>();

  constructor(private readonly limits: PoolLimits) {}

  /** Wait for the right to talk to `key`; reuses an idle connection when there is one. */
  acquire(key: string): Promise<Slot> {
    if (this.closed) return Promise.reject(new PoolClosedError());
    const reused = this.takeIdle(key);
    if (reused) return Promise.resolve({ key, connection: reused });
    if (this.hasRoom(key)) return Promise.resolve(this.grantNew(key));
    const p = new Promise<Slot>((grant, fail) => {
      const list = this.waiters.get(key);
      if (list) list.push({ key, grant, fail });
      else this.waiters.set(key, [{ key, grant, fail }]);
      this.waiting++;
    });
    this.makeRoom();
    return p;
  }

  /**
   * Give the slot back. Pass the connection when it may carry another message
   * (usable, under the per-connection limit); otherwise it is closed here and
   * the slot freed.
   */
  release(slot: Slot, connection: OutboundConnection | null): void {
    const { key } = slot;
    if (connection) this.busy.delete(connection);
    const reusable = connection && connection.usable && connection.transactions < this.limits.perConnection && !this.closed;
    if (connection && reusable) {
      // Hand it straight to a waiter for the same host, else park it.
      const w = this.nextWaiter(key);
      if (w) {
        w.grant({ key, connection });
        return;
      }
      const timer = setTimeout(() => this.expireIdle(key, connection), this.limits.idleMs ?? 2000);
      timer.unref();
      const list = this.idle.get(key) ?? [];
      list.push({ connection, timer });
      this.idle.set(key, list);
      // A waiter for another host blocked by the total limit may need this room.
      this.serveWaiters();
      return;
    }
    if (connection) this.retire(key, connection);
    else this.freeSlot(key);
  }

  /** Close a connection; its slot is free once the socket is gone. */
  private retire(key: string, connection: OutboundConnection, forRoom = false): void {
    if (connection.usable) connection.quit();
    else connection.destroy();
    if (forRoom) this.closingForRoom++;
    void connection.closed.then(() => {
      if (forRoom) this.closingForRoom--;
      this.freeSlot(key);
    });
  }

  /**
   * Waiters held back only by the total limit get room by closing idle
   * connections to other hosts (one per such waiter, counting those closing).
   */
  private makeRoom(): void {
    if (this.waiting === 0 || this.idle.size === 0) return;
    let blocked = 0;
    for (const [key, list] of this.waiters) if (this.hostHasRoom(key)) blocked += Math.min(list.length, this.limits.perHost - this.openTo(key));
    while (this.closingForRoom < blocked && this.closeOneIdle()) {
      /* one closed */
    }
  }

  /** The first waiter for `key`, taken off the list. */
  private nextWaiter(key: string): Waiter | null {
    const list = this.waiters.get(key);
    if (!list) return null;
    const w = list.shift()!;
    if (list.length === 0) this.waiters.delete(key);
    this.waiting--;
    return w;
  }

  /** Connections in use (opened or handed out, not yet released), so stop() can cut them. */
  private readonly busy = new Set<OutboundConnection>();

  /** Note a connection the holder of a slot is using (deliver.ts calls this after opening). */
  use(connection: OutboundConnection): void {
    this.busy.add(connection);
  }

  /** Cut every connection in use: their transactions fail at once (shutdown past its bound). */
  abortActive(): void {
    for (const c of this.busy) c.destroy();
    this.busy.clear();
  }

  /** Connections open to `key` now. */
  openTo(key: string): number {
    return this.open.get(key) ?? 0;
  }

  /** Close idle connections and refuse new work; waiters get PoolClosedError (their messages were not tried). */
  close(): void {
    this.closed = true;
    for (const [key, list] of this.idle) {
      for (const { connection, timer } of list) {
        clearTimeout(timer);
        connection.quit();
        void connection.closed.then(() => this.decrement(key));
      }
    }
    this.idle.clear();
    for (const list of this.waiters.values()) for (const w of list) w.fail(new PoolClosedError());
    this.waiters.clear();
    this.waiting = 0;
  }

  private hostHasRoom(key: string): boolean {
    return this.openTo(key) < this.limits.perHost;
  }

  private hasRoom(key: string): boolean {
    return this.hostHasRoom(key) && this.totalOpen < this.limits.total;
  }

  private grantNew(key: string): Slot {
    const n = this.openTo(key) + 1;
    this.open.set(key, n);
    this.totalOpen++;
    this.peak.set(key, Math.max(this.peak.get(key) ?? 0, n));
    return { key, connection: null };
  }

  private takeIdle(key: string): OutboundConnection | null {
    const list = this.idle.get(key);
    while (list && list.length) {
      const { connection, timer } = list.shift()!;
      clearTimeout(timer);
      if (connection.usable) return connection;
      this.retire(key, connection);
    }
    return null;
  }

  private expireIdle(key: string, connection: OutboundConnection): void {
    const list = this.idle.get(key);
    const i = list?.findIndex((x) => x.connection === connection) ?? -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    this.retire(key, connection);
  }

  private closeOneIdle(): boolean {
    for (const [key, list] of this.idle) {
      const item = list.shift();
      if (!item) continue;
      clearTimeout(item.timer);
      this.retire(key, item.connection, true);
      return true;
    }
    return false;
  }

  private decrement(key: string): void {
    const n = this.openTo(key) - 1;
    if (n <= 0) this.open.delete(key);
    else this.open.set(key, n);
    this.totalOpen--;
  }

  private freeSlot(key: string): void {
    this.decrement(key);
    this.serveWaiters();
  }

  private serveWaiters(): void {
    for (const key of [...this.waiters.keys()]) {
      for (;;) {
        if (!this.waiters.has(key)) break;
        const reused = this.takeIdle(key);
        if (reused) {
          this.nextWaiter(key)!.grant({ key, connection: reused });
          continue;
        }
        if (!this.hasRoom(key)) break;
        this.nextWaiter(key)!.grant(this.grantNew(key));
      }
    }
    this.makeRoom();
  }
}
