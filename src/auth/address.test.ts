import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopback, throttleKeyForIp, unmapIPv4 } from './address.js';

test('loopback is 127.0.0.0/8, ::1 and mapped 127.x', () => {
  for (const ip of ['127.0.0.1', '127.255.3.4', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::FFFF:127.1.2.3']) {
    assert.equal(isLoopback(ip), true, ip);
  }
  for (const ip of ['128.0.0.1', '10.0.0.1', '::2', '::ffff:10.0.0.1', 'fe80::1', '', 'localhost', '127.0.0.1.evil', '1::1']) {
    assert.equal(isLoopback(ip), false, ip);
  }
});

test('IPv4-mapped addresses are counted as the IPv4 address', () => {
  assert.equal(unmapIPv4('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(throttleKeyForIp('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(throttleKeyForIp('192.0.2.7'), '192.0.2.7');
});

test('an IPv6 client is counted by its /64', () => {
  const a = throttleKeyForIp('2001:db8:1:2:aaaa::1');
  assert.equal(a, '2001:0db8:0001:0002::/64');
  assert.equal(throttleKeyForIp('2001:DB8:1:2:ffff:ffff:ffff:ffff'), a);
  assert.notEqual(throttleKeyForIp('2001:db8:1:3::1'), a);
  assert.equal(throttleKeyForIp('::1'), '0000:0000:0000:0000::/64');
  assert.equal(throttleKeyForIp('fe80::1%eth0'), 'fe80:0000:0000:0000::/64');
  assert.equal(throttleKeyForIp('64:ff9b::192.0.2.1'), '0064:ff9b:0000:0000::/64');
});

test('a missing address (socket already closed) is not loopback and still gets a key', () => {
  assert.equal(isLoopback(undefined as unknown as string), false);
  assert.equal(throttleKeyForIp(undefined as unknown as string), '');
});
