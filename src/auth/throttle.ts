/**
 * Login throttling, shared by every protocol (one instance per process).
 *
 * Rules it keeps:
 * - Failures are counted per client (IPv4 address or IPv6 /64) and per account,
 *   in memory. Counts decay: one failure is forgotten per `decaySeconds` without
 *   a new one, so a user's occasional typos never add up to a lockout.
 * - Once a count reaches its maximum (auth.max_failures_per_ip / _per_account)
 *   that client or account must wait `throttleSeconds`; every further failure
 *   doubles the wait, up to `lockoutSeconds`. While it waits, attempts are
 *   refused before any password is checked, so a flood costs us nothing.
 * - Attempts in flight count: a client cannot start more concurrent attempts
 *   than it has failures left, and past the maximum only one at a time.
 * - A success clears the account's count (not the client's: one good login
 *   from a NAT gateway must not wipe out an attacker behind it).
 * - Memory is bounded: each table keeps at most `maxEntries` keys and evicts
 *   the least recently touched under a flood of distinct addresses or logins.
 * - Loopback is not exempt.
 */

export interface ThrottleOptions {
  maxFailuresPerIp: number;
  maxFailuresPerAccount: number;
  throttleSeconds: number;
  lockoutSeconds: number;
  /** Seconds per forgotten failure; default max(lockoutSeconds, 60). */
  decaySeconds?: number;
  /** Keys kept per table (clients, accounts); default 10000. */
  maxEntries?: number;
  /** Milliseconds clock, injectable for tests. */
  now?: () => number;
}

interface Entry {
  failures: number;
  /** When `failures` was last brought up to date (decay runs from here). */
  at: number;
  /** Attempts started and not yet finished. */
  pending: number;
  blockedUntil: number;
}

export type Outcome = 'failure' | 'success' | 'none';

/** One table of counts (clients or accounts). */
export class FailureCounter {
  private readonly entries = new Map<string, Entry>();
  private readonly decayMs: number;
  private readonly maxEntries: number;

  constructor(
    private readonly maxFailures: number,
    private readonly throttleMs: number,
    private readonly lockoutMs: number,
    decaySeconds: number,
    maxEntries: number,
    private readonly now: () => number,
    /** Whether a success wipes the count (accounts) or merely ends the attempt (clients). */
    private readonly resetOnSuccess: boolean,
  ) {
    this.decayMs = Math.max(1, decaySeconds * 1000);
    this.maxEntries = Math.max(1, maxEntries);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Seconds this key must still wait (0 = may try now). */
  waitFor(key: string): number {
    const e = this.current(key);
    if (!e) return 0;
    return toSeconds(e.blockedUntil - this.now());
  }

  /** Start an attempt: 0 if it may go ahead (and is now counted in flight), else seconds to wait. */
  tryReserve(key: string): number {
    const now = this.now();
    const e = this.current(key) ?? this.fresh(key, now);
    if (e.blockedUntil > now) return toSeconds(e.blockedUntil - now);
    const allowed = e.failures >= this.maxFailures ? e.pending === 0 : e.failures + e.pending < this.maxFailures;
    // Attempts already in flight will be decided in milliseconds; ask for the short wait.
    if (!allowed) return Math.max(1, toSeconds(this.throttleMs));
    e.pending++;
    this.touch(key, e);
    return 0;
  }

  /** Finish an attempt started with tryReserve (or count one that never reserved). */
  release(key: string, outcome: Outcome, reserved = true): void {
    const now = this.now();
    const e = this.current(key) ?? this.fresh(key, now);
    if (reserved && e.pending > 0) e.pending--;
    if (outcome === 'failure') {
      // Keep the exponent finite: past 64 doublings every wait is the lockout anyway.
      e.failures = Math.min(e.failures + 1, this.maxFailures + 64);
      e.at = now;
      if (e.failures >= this.maxFailures) {
        const wait = Math.min(this.lockoutMs, this.throttleMs * 2 ** (e.failures - this.maxFailures));
        e.blockedUntil = Math.max(e.blockedUntil, now + wait);
      }
    } else if (outcome === 'success' && this.resetOnSuccess) {
      e.failures = 0;
      e.blockedUntil = 0;
    }
    if (e.failures === 0 && e.pending === 0 && e.blockedUntil <= now) this.entries.delete(key);
    else this.touch(key, e);
  }

  /** The entry with decay applied, or undefined (dropping entries that decayed to nothing). */
  private current(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const now = this.now();
    const steps = Math.floor((now - e.at) / this.decayMs);
    if (steps > 0) {
      e.failures = Math.max(0, e.failures - steps);
      e.at += steps * this.decayMs;
    }
    if (e.failures === 0 && e.pending === 0 && e.blockedUntil <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private fresh(key: string, now: number): Entry {
    const e: Entry = { failures: 0, at: now, pending: 0, blockedUntil: 0 };
    this.touch(key, e);
    return e;
  }

  /** Move to the young end of the map (insertion order) and evict from the old end. */
  private touch(key: string, e: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, e);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}

function toSeconds(ms: number): number {
  return ms > 0 ? Math.ceil(ms / 1000) : 0;
}

export class LoginThrottle {
  readonly ips: FailureCounter;
  readonly accounts: FailureCounter;

  constructor(opts: ThrottleOptions) {
    const now = opts.now ?? Date.now;
    const decay = opts.decaySeconds ?? Math.max(opts.lockoutSeconds, 60);
    const max = opts.maxEntries ?? 10_000;
    const throttleMs = opts.throttleSeconds * 1000;
    const lockoutMs = opts.lockoutSeconds * 1000;
    this.ips = new FailureCounter(opts.maxFailuresPerIp, throttleMs, lockoutMs, decay, max, now, false);
    this.accounts = new FailureCounter(opts.maxFailuresPerAccount, throttleMs, lockoutMs, decay, max, now, true);
  }

  /** Seconds until this client (and account, if given) may try again. */
  waitFor(ipKey: string, accountKey?: string): number {
    const ip = this.ips.waitFor(ipKey);
    return accountKey === undefined ? ip : Math.max(ip, this.accounts.waitFor(accountKey));
  }
}
