/**
 * Per-client-address limits that smtp-server does not keep: concurrent
 * connections and accepted messages per minute. In-process counters (each
 * worker counts its own share; with N workers the effective limit is up to N
 * times larger, as with Postfix's per-process anvil before it was shared).
 */
import { throttleKeyForIp } from '../auth/address.js';

export class ConnectionCounter {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Count a new connection; false (and nothing counted) if the address is at its limit. */
  acquire(ip: string): boolean {
    const key = throttleKeyForIp(ip);
    const n = this.open.get(key) ?? 0;
    if (n >= this.max) return false;
    this.open.set(key, n + 1);
    return true;
  }

  release(ip: string): void {
    const key = throttleKeyForIp(ip);
    const n = (this.open.get(key) ?? 0) - 1;
    if (n <= 0) this.open.delete(key);
    else this.open.set(key, n);
  }

  count(ip: string): number {
    return this.open.get(throttleKeyForIp(ip)) ?? 0;
  }
}

/** A sliding one-minute window of message timestamps per address; 0 = unlimited. */
export class MessageRate {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  private recent(key: string): number[] {
    const cutoff = this.now() - 60_000;
    const list = (this.hits.get(key) ?? []).filter((t) => t > cutoff);
    if (list.length) this.hits.set(key, list);
    else this.hits.delete(key);
    return list;
  }

  /** Whether another message from this address may start now. */
  allowed(ip: string): boolean {
    if (this.perMinute <= 0) return true;
    return this.recent(throttleKeyForIp(ip)).length < this.perMinute;
  }

  /** Record an accepted message. */
  record(ip: string): void {
    if (this.perMinute <= 0) return;
    const key = throttleKeyForIp(ip);
    const list = this.recent(key);
    list.push(this.now());
    this.hits.set(key, list);
  }
}
