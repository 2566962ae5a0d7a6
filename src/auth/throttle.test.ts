import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureCounter, LoginThrottle } from './throttle.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (s: number) => (t += s * 1000) };
}

const opts = { maxFailuresPerIp: 10, maxFailuresPerAccount: 5, throttleSeconds: 2, lockoutSeconds: 900 };

/** One whole attempt that fails: reserve, then count the failure. Returns the wait if refused. */
function fail(c: FailureCounter, key: string): number {
  const wait = c.tryReserve(key);
  if (wait === 0) c.release(key, 'failure');
  return wait;
}

test('the first maxFailures attempts go through, then the client waits throttleSeconds', () => {
  const k = clock();
  const t = new LoginThrottle({ ...opts, now: k.now });
  for (let i = 0; i < 10; i++) assert.equal(fail(t.ips, '192.0.2.1'), 0, `attempt ${i + 1}`);
  assert.equal(t.ips.waitFor('192.0.2.1'), 2);
  assert.equal(t.ips.tryReserve('192.0.2.1'), 2);
  assert.equal(t.waitFor('192.0.2.2'), 0, 'another client is not affected');
});

test('each further failure doubles the wait, up to lockoutSeconds', () => {
  const k = clock();
  const t = new LoginThrottle({ ...opts, now: k.now });
  for (let i = 0; i < 10; i++) fail(t.ips, 'ip');
  const waits: number[] = [];
  for (let i = 0; i < 12; i++) {
    const w = t.ips.waitFor('ip');
    waits.push(w);
    k.advance(w);
    assert.equal(fail(t.ips, 'ip'), 0, 'after waiting, one attempt is allowed');
    assert.ok(t.ips.tryReserve('ip') > 0, 'and the next one must wait again');
  }
  assert.deepEqual(waits, [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]);
});

test('thousands of refused attempts do not move the wait or grow memory', () => {
  const k = clock();
  const t = new LoginThrottle({ ...opts, now: k.now });
  for (let i = 0; i < 10; i++) fail(t.ips, 'ip');
  for (let i = 0; i < 5000; i++) assert.equal(t.ips.tryReserve('ip'), 2);
  assert.equal(t.ips.size, 1);
  k.advance(2);
  assert.equal(t.ips.tryReserve('ip'), 0);
});

test('a success clears the account count, not the client count', () => {
  const k = clock();
  const t = new LoginThrottle({ ...opts, now: k.now });
  for (let i = 0; i < 4; i++) {
    fail(t.accounts, 'alice');
    fail(t.ips, 'ip');
  }
  assert.equal(t.accounts.tryReserve('alice'), 0);
  t.accounts.release('alice', 'success');
  assert.equal(t.ips.tryReserve('ip'), 0);
  t.ips.release('ip', 'success');
  // Account: 5 more failures allowed again; client: only 6 left of its 10.
  for (let i = 0; i < 5; i++) assert.equal(fail(t.accounts, 'alice'), 0);
  assert.ok(t.accounts.waitFor('alice') > 0);
  for (let i = 0; i < 6; i++) assert.equal(fail(t.ips, 'ip'), 0);
  assert.ok(t.ips.waitFor('ip') > 0);
});

test('a success also lifts an account block', () => {
  const k = clock();
  const c = new LoginThrottle({ ...opts, now: k.now }).accounts;
  for (let i = 0; i < 5; i++) fail(c, 'bob');
  k.advance(c.waitFor('bob'));
  assert.equal(c.tryReserve('bob'), 0);
  c.release('bob', 'success');
  assert.equal(c.size, 0);
  assert.equal(c.waitFor('bob'), 0);
});

test('failures decay: one forgotten per decaySeconds', () => {
  const k = clock();
  const t = new LoginThrottle({ ...opts, decaySeconds: 60, now: k.now });
  for (let i = 0; i < 9; i++) fail(t.ips, 'ip');
  k.advance(3 * 60);
  // 9 - 3 = 6 remembered: 4 more before the block.
  for (let i = 0; i < 4; i++) assert.equal(fail(t.ips, 'ip'), 0);
  assert.ok(t.ips.waitFor('ip') > 0);
  k.advance(3600);
  assert.equal(t.ips.waitFor('ip'), 0);
  assert.equal(t.ips.size, 0, 'a fully decayed entry is dropped');
});

test('attempts in flight count: no more concurrent attempts than failures left', () => {
  const k = clock();
  const c = new LoginThrottle({ ...opts, now: k.now }).accounts; // max 5
  for (let i = 0; i < 5; i++) assert.equal(c.tryReserve('carol'), 0);
  assert.ok(c.tryReserve('carol') > 0, 'sixth concurrent attempt waits');
  c.release('carol', 'none');
  assert.equal(c.tryReserve('carol'), 0, 'a finished attempt frees its slot');
});

test('past the maximum, only one attempt at a time', () => {
  const k = clock();
  const c = new LoginThrottle({ ...opts, now: k.now }).accounts;
  for (let i = 0; i < 5; i++) fail(c, 'dave');
  k.advance(c.waitFor('dave'));
  assert.equal(c.tryReserve('dave'), 0);
  assert.ok(c.tryReserve('dave') > 0);
});

test('memory stays bounded under a flood of distinct clients; the oldest are evicted', () => {
  const k = clock();
  const t = new LoginThrottle({ ...opts, maxEntries: 1000, now: k.now });
  for (let i = 0; i < 5; i++) fail(t.ips, 'first');
  for (let i = 0; i < 20_000; i++) fail(t.ips, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  assert.equal(t.ips.size, 1000);
  assert.equal(t.ips.tryReserve('first'), 0, 'evicted: starts afresh');
  // The most recent are still remembered.
  const last = 19_999;
  const key = `10.${(last >> 16) & 255}.${(last >> 8) & 255}.${last & 255}`;
  for (let i = 0; i < 9; i++) fail(t.ips, key);
  assert.ok(t.ips.waitFor(key) > 0);
});

test('releasing an evicted key is harmless', () => {
  const k = clock();
  const c = new LoginThrottle({ ...opts, maxEntries: 2, now: k.now }).ips;
  assert.equal(c.tryReserve('a'), 0);
  c.tryReserve('b');
  c.tryReserve('c'); // evicts a
  c.release('a', 'failure');
  c.release('a', 'success');
  assert.ok(c.size <= 2);
});

test('waitFor with an account takes the longer of the two waits', () => {
  const k = clock();
  const t = new LoginThrottle({ ...opts, now: k.now });
  for (let i = 0; i < 5; i++) fail(t.accounts, 'erin');
  k.advance(2);
  fail(t.accounts, 'erin');
  assert.equal(t.waitFor('ip'), 0);
  assert.equal(t.waitFor('ip', 'erin'), 4);
});
