/**
 * Polls every enabled external account on its own interval.
 *
 * Rules it keeps:
 * - Each account is due `interval` seconds after its last poll began (after
 *   its recorded lastPollAt when the server starts), whatever that poll's
 *   outcome: a connection that was down is simply tried again next time.
 * - Polls are spread out: an account's first poll after start waits a
 *   per-account offset (its id hashed into the first minute, or into its
 *   interval if shorter), so a hundred accounts do not connect in one second.
 * - At most `concurrency` polls run at once; never two of one account in this
 *   process (the store lock in poller.ts covers other processes and nodes).
 * - The account list is re-read every `refreshMs` (accounts added or removed
 *   with the CLI are picked up without a restart).
 * - stop() asks running polls to stop at the next message and waits for them.
 */
import type { Logger } from 'pino';
import type { ExternalAccount, Id } from '../store/types.js';
import type { PollResult } from './poller.js';

export interface SchedulerOptions {
  listAccounts: () => Promise<ExternalAccount[]>;
  poll: (account: ExternalAccount, signal: AbortSignal) => Promise<PollResult>;
  concurrency: number;
  logger: Logger;
  /** Re-read the account list this often (default 5 s: one cheap query; CLI changes show up quickly). */
  refreshMs?: number;
  /** How often due accounts are looked for (default 1 s). */
  tickMs?: number;
  /** Milliseconds since the epoch (tests pass their own clock). */
  now?: () => number;
}

/** A per-account offset in [0, span): stable, so restarts keep accounts apart too. */
export function spreadOffset(id: Id, span: number): number {
  if (span <= 0) return 0;
  // Knuth's multiplicative hash spreads consecutive ids evenly.
  const h = (Math.imul(id, 2654435761) >>> 0) / 2 ** 32;
  return Math.floor(h * span);
}

export class FetchScheduler {
  private accounts = new Map<Id, ExternalAccount>();
  private nextDue = new Map<Id, number>();
  private running = new Map<Id, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private lastRefresh = -Infinity;
  private refreshing: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly opts: SchedulerOptions) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    const tick = () => {
      this.tick().catch((err: unknown) => this.opts.logger.error({ err }, 'fetch scheduler tick failed'));
    };
    this.timer = setInterval(tick, this.opts.tickMs ?? 1000);
    this.timer.unref();
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.abort.abort();
    await this.refreshing?.catch(() => undefined);
    await Promise.all(this.running.values());
  }

  /** Accounts polling right now (ids). */
  active(): Id[] {
    return [...this.running.keys()];
  }

  /** When each account is next due (ms since the epoch). */
  schedule(): Map<Id, number> {
    return new Map(this.nextDue);
  }

  /** Looks for due accounts and starts their polls; exposed for tests. */
  async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.now() - this.lastRefresh >= (this.opts.refreshMs ?? 5_000)) await this.refresh();
    const now = this.now();
    const due = [...this.accounts.values()]
      .filter((a) => a.enabled && !this.running.has(a.id) && (this.nextDue.get(a.id) ?? Infinity) <= now)
      .sort((a, b) => this.nextDue.get(a.id)! - this.nextDue.get(b.id)!);
    for (const account of due) {
      if (this.stopped || this.running.size >= this.opts.concurrency) break;
      this.launch(account, now);
    }
  }

  /** Re-reads the account list; new accounts get their (spread) first due time. */
  async refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    this.refreshing = (async () => {
      const list = await this.opts.listAccounts();
      this.lastRefresh = this.now();
      const ids = new Set(list.map((a) => a.id));
      for (const id of this.accounts.keys()) {
        if (!ids.has(id)) {
          this.accounts.delete(id);
          this.nextDue.delete(id);
        }
      }
      const now = this.now();
      for (const a of list) {
        const intervalMs = a.interval * 1000;
        const known = this.accounts.get(a.id);
        this.accounts.set(a.id, a);
        if (known && known.interval === a.interval && this.nextDue.has(a.id)) continue;
        const offset = spreadOffset(a.id, Math.min(intervalMs, 60_000));
        const fromLast = a.lastPollAt ? a.lastPollAt.getTime() + intervalMs : now;
        this.nextDue.set(a.id, Math.max(fromLast, now + offset));
      }
    })();
    try {
      await this.refreshing;
    } finally {
      this.refreshing = null;
    }
  }

  private launch(account: ExternalAccount, now: number): void {
    this.nextDue.set(account.id, now + account.interval * 1000);
    const run = (async () => {
      try {
        const r = await this.opts.poll(account, this.abort.signal);
        if (r.skipped) this.opts.logger.debug({ account: account.name }, 'poll skipped: account busy elsewhere');
      } catch (err) {
        this.opts.logger.error({ err, account: account.name }, 'poll failed unexpectedly');
      } finally {
        this.running.delete(account.id);
      }
    })();
    this.running.set(account.id, run);
  }
}
