/**
 * The queue runner: claims due entries from the store and runs their delivery
 * attempts, within the connection limits, while the delivery window is open.
 *
 * Rules it keeps:
 * - An entry is delivered only under a lease from store.claimQueue, so across
 *   processes and nodes each attempt happens once. Inside this process an
 *   entry already in flight is never started twice.
 * - The lease owner is stable for a node (host name + data directory): after a
 *   crash, the restarted node releases what its previous life had claimed
 *   (store.releaseClaim only frees leases of the given owner) and delivers it
 *   again at once instead of waiting for the leases to expire. Recipients whose
 *   delivery was recorded are not due any more, so nothing acknowledged is sent
 *   twice; what was not recorded is sent again, so nothing is forgotten.
 * - At most maxInFlight entries are claimed at once, so a lease is not spent
 *   waiting for a connection slot.
 * - The runner polls briefly (pollMs) and also wakes when an attempt finishes,
 *   so a freshly queued message leaves within a second.
 * - Outside the delivery window nothing is claimed, unless `mailroom queue
 *   flush` was asked (setting "queue:flush"): that opens the window until a
 *   claim comes back empty.
 * - Finished entries (every recipient delivered or bounced) stay for
 *   keepFinishedMs for `queue show`, then are deleted (releasing the blob).
 */
import { createHash } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { QueueClaim, Store } from '../../store/types.js';
import type { DkimSigner } from '../dkim.js';
import { cachedResolver, type DnsResolver } from '../outbound/dns.js';
import { ConnectionPool } from '../outbound/pool.js';
import type { Route } from '../types.js';
import { runAttempt, type AttemptDeps } from './attempt.js';
import { systemClock, type Clock } from './clock.js';
import { AttemptRecorder } from './recorder.js';
import { retryPolicy } from './schedule.js';
import { parseWindow, type DeliveryWindow } from './window.js';

/** The setting `mailroom queue flush` writes; its value changes on every flush. */
export const FLUSH_SETTING = 'queue:flush';

export interface RunnerOptions {
  store: Store;
  config: Config;
  route: Route;
  logger: Logger;
  resolver: DnsResolver;
  dkim?: DkimSigner | null;
  clock?: Clock;
  /** Lease owner; default: stable per node (host name + data directory). */
  owner?: string;
  pollMs?: number;
  maxInFlight?: number;
  leaseMs?: number;
  keepFinishedMs?: number;
  /** Bound on waiting for attempts at stop() before their connections are cut. */
  stopTimeoutMs?: number;
  /** Idle connection keep time (pool). */
  idleMs?: number;
  /** How long DNS answers are reused (0: ask every time). */
  dnsCacheMs?: number;
}

export function nodeOwner(config: Config): string {
  const dir = createHash('sha256').update(resolve(config.dataDir)).digest('hex').slice(0, 12);
  return `${osHostname()}:${dir}`;
}

export class QueueRunner {
  readonly pool: ConnectionPool;
  readonly owner: string;
  readonly window: DeliveryWindow;
  private readonly clock: Clock;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly attemptDeps: AttemptDeps;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private wakeUp: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private flushing = false;
  /** The loop woke from its poll timer (claim whatever room there is), not from a finished attempt. */
  private polling = true;
  private flushToken: string | null = null;
  private lastSweep = 0;
  private readonly pollMs: number;
  private readonly maxInFlight: number;
  private readonly leaseMs: number;
  private readonly keepFinishedMs: number;

  constructor(private readonly opts: RunnerOptions) {
    const q = opts.config.queue;
    this.clock = opts.clock ?? systemClock;
    this.owner = opts.owner ?? nodeOwner(opts.config);
    this.window = parseWindow(q.window);
    this.pollMs = opts.pollMs ?? 500;
    this.maxInFlight = opts.maxInFlight ?? Math.max(q.concurrency * 100, 100);
    // A lease must outlast an attempt: several replies' worth of timeouts plus waiting for a slot.
    this.leaseMs = opts.leaseMs ?? Math.max(15 * 60_000, q.timeout * 1000 * 10);
    this.keepFinishedMs = opts.keepFinishedMs ?? 3600_000;
    this.pool = new ConnectionPool({ perHost: q.connectionsPerHost, total: q.concurrency, perConnection: q.messagesPerConnection, idleMs: opts.idleMs });
    this.attemptDeps = {
      store: opts.store,
      config: opts.config,
      route: opts.route,
      logger: opts.logger,
      clock: this.clock,
      policy: retryPolicy(opts.config),
      owner: this.owner,
      dkim: opts.dkim ?? null,
      recorder: new AttemptRecorder(opts.store, this.owner),
      deliver: {
        pool: this.pool,
        resolver: cachedResolver(opts.resolver, opts.dnsCacheMs ?? 30_000),
        heloName: opts.config.hostname,
        timeoutMs: q.timeout * 1000,
        tlsBroken: new Map(),
        logger: opts.logger,
      },
    };
  }

  /** Release what this node held before a restart, then run until stop(). */
  async start(): Promise<void> {
    const active = await this.releaseOwnClaims();
    this.opts.logger.info({ active, owner: this.owner, window: this.window.pattern }, 'queue runner started');
    this.flushToken = await this.opts.store.getSetting(FLUSH_SETTING);
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Stop claiming. Entries still waiting for a connection are released untried
   * (they stay due, for the next start or another node); transactions under way
   * may finish within the bound, then their connections are cut (deferred).
   */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    this.pool.close();
    const all = Promise.allSettled([...this.inFlight.values()]);
    const bound = this.opts.stopTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), bound)))]);
    clearTimeout(timer);
    if (timedOut) {
      this.opts.logger.warn({ inFlight: this.inFlight.size }, 'stopping: cutting connections of attempts still in flight');
      this.pool.abortActive();
      await all;
    }
    this.pool.close();
  }

  /** Run the loop now instead of at the next poll. */
  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  /**
   * Claim what is due now and run those attempts to the end (tests with a
   * manual clock; the CLI). Returns the number of entries attempted.
   */
  async runOnce(): Promise<number> {
    this.polling = true;
    let total = 0;
    for (;;) {
      const started = await this.claimAndStart();
      total += started;
      if (started === 0) break;
      await Promise.allSettled([...this.inFlight.values()]);
    }
    await Promise.allSettled([...this.inFlight.values()]);
    return total;
  }

  /** Entries being delivered right now. */
  get busy(): number {
    return this.inFlight.size;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let started = 0;
      try {
        await this.checkFlush();
        started = await this.claimAndStart();
        await this.sweep();
      } catch (err) {
        this.opts.logger.error({ err }, 'queue runner: claiming failed; will retry');
      }
      if (!this.running) break;
      // More may be due right away when the claim was full; otherwise wait for a poll or a wake-up.
      if (started > 0 && this.inFlight.size < this.maxInFlight) {
        this.polling = true;
        continue;
      }
      this.polling = await new Promise<boolean>((res) => {
        this.wakeUp = () => res(false);
        this.timer = setTimeout(() => res(true), this.pollMs);
      });
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.wakeUp = null;
    }
  }

  private async checkFlush(): Promise<void> {
    const token = await this.opts.store.getSetting(FLUSH_SETTING);
    if (token !== null && token !== this.flushToken) {
      this.flushToken = token;
      this.flushing = true;
      this.opts.logger.info({ window: this.window.pattern }, 'queue flush requested: delivering now');
    }
  }

  private async claimAndStart(): Promise<number> {
    const now = this.clock.now();
    if (!this.window.isOpen(now) && !this.flushing) return 0;
    const room = this.maxInFlight - this.inFlight.size;
    if (room <= 0) return 0;
    // Every claim is a write transaction: with attempts still running, wait until a
    // quarter of the room is free rather than claiming one entry at a time.
    if (this.inFlight.size > 0 && room < Math.ceil(this.maxInFlight / 4) && !this.polling) return 0;
    const claims = await this.opts.store.claimQueue(this.owner, now, room, this.leaseMs);
    if (claims.length === 0) this.flushing = false;
    let started = 0;
    for (const claim of claims) {
      // Claimed again while still running here (its lease ran out): the running attempt owns it.
      if (this.inFlight.has(claim.entry.id)) continue;
      this.start1(claim);
      started++;
    }
    return started;
  }

  private start1(claim: QueueClaim): void {
    const id = claim.entry.id;
    const p = runAttempt(claim, this.attemptDeps)
      .catch((err) => this.opts.logger.error({ queueId: id, err }, 'delivery attempt crashed'))
      .finally(() => {
        this.inFlight.delete(id);
        this.wake();
      });
    this.inFlight.set(id, p);
  }

  private async releaseOwnClaims(): Promise<number> {
    const active = await this.opts.store.listQueue({ state: 'active' });
    for (const entry of active) await this.opts.store.releaseClaim(entry.id, this.owner);
    return active.length;
  }

  /** Delete entries finished longer ago than keepFinishedMs (at most once a minute). */
  private async sweep(): Promise<void> {
    // Real time, like the store's updatedAt (a test clock may run days ahead).
    const now = Date.now();
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    const seen = new Set<string>();
    for (const state of ['delivered', 'bounced'] as const) {
      for (const e of await this.opts.store.listQueue({ state })) {
        if (seen.has(e.id) || this.inFlight.has(e.id)) continue;
        seen.add(e.id);
        const done = e.recipients.every((r) => r.state === 'delivered' || r.state === 'bounced');
        const last = Math.max(...e.recipients.map((r) => r.updatedAt.getTime()));
        if (done && now - last >= this.keepFinishedMs) await this.opts.store.deleteQueueEntry(e.id).catch(() => undefined);
      }
    }
  }
}
