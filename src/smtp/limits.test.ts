import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionCounter, MessageRate } from './limits.js';

test('connections per address are limited and released', () => {
  const c = new ConnectionCounter(2);
  assert.ok(c.acquire('192.0.2.1'));
  assert.ok(c.acquire('::ffff:192.0.2.1'), 'mapped IPv4 is the same client');
  assert.ok(!c.acquire('192.0.2.1'));
  assert.ok(c.acquire('192.0.2.2'));
  c.release('192.0.2.1');
  assert.ok(c.acquire('192.0.2.1'));
  assert.equal(c.count('192.0.2.1'), 2);
  assert.ok(c.acquire('2001:db8::1'));
  assert.ok(c.acquire('2001:db8::2'));
  assert.ok(!c.acquire('2001:db8::3'), 'an IPv6 /64 counts as one client');
});

test('message rate is a sliding minute', () => {
  let now = 0;
  const r = new MessageRate(2, () => now);
  assert.ok(r.allowed('192.0.2.1'));
  r.record('192.0.2.1');
  now = 30_000;
  r.record('192.0.2.1');
  assert.ok(!r.allowed('192.0.2.1'));
  assert.ok(r.allowed('192.0.2.9'));
  now = 60_001;
  assert.ok(r.allowed('192.0.2.1'));
  assert.ok(new MessageRate(0).allowed('x'));
});
