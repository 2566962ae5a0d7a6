import { test } from 'node:test';
import assert from 'node:assert/strict';
import { afterTemporaryFailure, expiresAt, formatDelay, retryDelay, warningDue, type RetryPolicy } from './schedule.js';

const policy: RetryPolicy = { retrySchedule: [60, 300, 900, 1800, 3600], maxAge: 5 * 86400, warnAfter: 4 * 3600 };
const t0 = new Date(Date.UTC(2024, 0, 1, 0, 0, 0));
const at = (s: number) => new Date(t0.getTime() + s * 1000);

test('the back-off follows the schedule, then repeats its last step', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 50].map((n) => retryDelay(n, policy)),
    [60, 300, 900, 1800, 3600, 3600, 3600, 3600],
  );
  assert.equal(retryDelay(0, policy), 60);
});

test('a temporary failure defers until the next step', () => {
  assert.deepEqual(afterTemporaryFailure(at(0), t0, 1, policy), { state: 'deferred', nextAttemptAt: at(60) });
  assert.deepEqual(afterTemporaryFailure(at(60), t0, 2, policy), { state: 'deferred', nextAttemptAt: at(360) });
});

test('a whole life of retries: the attempts land on schedule and the last one at the expiry', () => {
  let now = t0;
  const times: number[] = [];
  for (let attempt = 1; attempt < 1000; attempt++) {
    const r = afterTemporaryFailure(now, t0, attempt, policy);
    if (r.state === 'bounced') break;
    times.push((r.nextAttemptAt.getTime() - t0.getTime()) / 1000);
    now = r.nextAttemptAt;
  }
  assert.deepEqual(times.slice(0, 6), [60, 360, 1260, 3060, 6660, 10260]);
  assert.equal(times.at(-1), 5 * 86400, 'the final attempt is at the expiry');
  assert.ok(times.every((t, i) => i === 0 || t > times[i - 1]!));
  // After the attempt at the expiry fails, the recipient bounces.
  assert.deepEqual(afterTemporaryFailure(at(5 * 86400), t0, times.length + 1, policy), { state: 'bounced', expired: true });
});

test('expiry and warnings', () => {
  assert.deepEqual(expiresAt(t0, policy), at(5 * 86400));
  assert.equal(warningDue(at(4 * 3600 - 1), t0, null, policy), false);
  assert.equal(warningDue(at(4 * 3600), t0, null, policy), true);
  assert.equal(warningDue(at(5 * 3600), t0, at(4 * 3600), policy), false, 'only once');
  assert.equal(warningDue(at(99999), t0, null, { ...policy, warnAfter: 0 }), false, '0 = never');
});

test('a custom schedule is honoured', () => {
  const p: RetryPolicy = { retrySchedule: [10], maxAge: 25, warnAfter: 0 };
  assert.deepEqual(afterTemporaryFailure(at(0), t0, 1, p), { state: 'deferred', nextAttemptAt: at(10) });
  assert.deepEqual(afterTemporaryFailure(at(20), t0, 3, p), { state: 'deferred', nextAttemptAt: at(25) });
  assert.deepEqual(afterTemporaryFailure(at(25), t0, 4, p), { state: 'bounced', expired: true });
});

test('formatDelay', () => {
  assert.equal(formatDelay(0), '0s');
  assert.equal(formatDelay(42_000), '42s');
  assert.equal(formatDelay(65_000), '1m 5s');
  assert.equal(formatDelay(3_900_000), '1h 5m');
  assert.equal(formatDelay(2 * 86400_000 + 3 * 3600_000), '2d 3h');
});
