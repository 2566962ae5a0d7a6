/**
 * When to try a deferred recipient again, when to give up, when to warn.
 *
 * Rules:
 * - After the n-th failed attempt the wait is retrySchedule[n-1]; past the end
 *   of the list its last value repeats (1 min, 5 min, 15 min, 30 min, 1 h, then
 *   hourly by default).
 * - A message expires maxAge seconds after it was queued. The next attempt is
 *   never scheduled past the expiry: the last one happens at the expiry itself,
 *   so a message that keeps failing is bounced on time, not up to an hour late.
 * - A temporary failure at or after the expiry is final (bounced as expired).
 * - The delay warning is due once, warnAfter seconds after queueing (0: never),
 *   for recipients still waiting.
 */
import type { Config } from '../../config/schema.js';

export interface RetryPolicy {
  /** Seconds between attempts; the last one repeats. */
  retrySchedule: number[];
  /** Seconds after queueing that a message is given up. */
  maxAge: number;
  /** Seconds after queueing that the sender is warned (0 = never). */
  warnAfter: number;
}

export function retryPolicy(config: Config): RetryPolicy {
  const q = config.queue;
  return { retrySchedule: q.retrySchedule.length ? q.retrySchedule : [3600], maxAge: q.maxAge, warnAfter: q.warnAfter };
}

/** Seconds to wait after the `attempts`-th failed attempt (attempts >= 1). */
export function retryDelay(attempts: number, policy: RetryPolicy): number {
  const s = policy.retrySchedule;
  const i = Math.min(Math.max(attempts, 1), s.length) - 1;
  return s[i]!;
}

export function expiresAt(createdAt: Date, policy: RetryPolicy): Date {
  return new Date(createdAt.getTime() + policy.maxAge * 1000);
}

export type TemporaryOutcome = { state: 'deferred'; nextAttemptAt: Date } | { state: 'bounced'; expired: true };

/**
 * What a temporary failure means for a recipient: deferred until the next
 * attempt, or bounced because the message is too old. `attempts` counts the
 * attempt that just failed.
 */
export function afterTemporaryFailure(now: Date, createdAt: Date, attempts: number, policy: RetryPolicy): TemporaryOutcome {
  const expiry = expiresAt(createdAt, policy).getTime();
  if (now.getTime() >= expiry) return { state: 'bounced', expired: true };
  const next = Math.min(now.getTime() + retryDelay(attempts, policy) * 1000, expiry);
  return { state: 'deferred', nextAttemptAt: new Date(next) };
}

/** Whether the one delay warning for a message is due now. */
export function warningDue(now: Date, createdAt: Date, warnedAt: Date | null, policy: RetryPolicy): boolean {
  if (policy.warnAfter <= 0 || warnedAt) return false;
  return now.getTime() >= createdAt.getTime() + policy.warnAfter * 1000;
}

/** "1h 5m", "42s", "2d 3h": how long a message has waited, for logs and `queue list`. */
export function formatDelay(ms: number): string {
  let s = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d) return h ? `${d}d ${h}h` : `${d}d`;
  if (h) return m ? `${h}h ${m}m` : `${h}h`;
  if (m) return s ? `${m}m ${s}s` : `${m}m`;
  return `${s}s`;
}
