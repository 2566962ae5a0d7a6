import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CidrSet, formatIp, isLoopback, parseCidr, parseIp } from './cidr.js';

test('parses IPv4, IPv6, bracketed and IPv6-tagged literals', () => {
  assert.deepEqual(parseIp('192.0.2.1')?.bytes, Uint8Array.from([192, 0, 2, 1]));
  assert.equal(parseIp('[192.0.2.1]')?.family, 4);
  assert.equal(parseIp('IPv6:2001:db8::1')?.family, 6);
  assert.equal(parseIp('[IPv6:2001:db8::1]')?.family, 6);
  assert.equal(parseIp('fe80::1%eth0')?.family, 6);
  assert.equal(parseIp('300.1.1.1'), null);
  assert.equal(parseIp('example.org'), null);
  assert.equal(parseIp(''), null);
  assert.equal(parseIp('1.2.3'), null);
});

test('IPv4-mapped IPv6 is the IPv4 address it carries', () => {
  const ip = parseIp('::ffff:10.1.2.3');
  assert.equal(ip?.family, 4);
  assert.equal(formatIp(ip!), '10.1.2.3');
  assert.ok(new CidrSet(['10.0.0.0/8']).has('::ffff:10.1.2.3'));
  assert.ok(new CidrSet(['::ffff:10.0.0.0/104']).has('10.9.9.9'));
});

test('formats IPv6 per RFC 5952', () => {
  assert.equal(formatIp(parseIp('2001:0db8:0000:0000:0000:0000:0000:0001')!), '2001:db8::1');
  assert.equal(formatIp(parseIp('2001:db8:0:1:0:0:0:1')!), '2001:db8:0:1::1');
  assert.equal(formatIp(parseIp('::')!), '::');
  assert.equal(formatIp(parseIp('::1')!), '::1');
});

test('CIDR parsing clears host bits and rejects nonsense', () => {
  assert.equal(parseCidr('192.0.2.77/24')?.text, '192.0.2.0/24');
  assert.equal(parseCidr('10.0.0.1')?.text, '10.0.0.1/32');
  assert.equal(parseCidr('2001:db8::1/32')?.text, '2001:db8::/32');
  assert.equal(parseCidr('0.0.0.0/0')?.text, '0.0.0.0/0');
  assert.equal(parseCidr('10.0.0.0/33'), null);
  assert.equal(parseCidr('10.0.0.0/-1'), null);
  assert.equal(parseCidr('10.0.0.0/'), null);
  assert.equal(parseCidr('10.0.0.0/8/8'), null);
  assert.equal(parseCidr('host.example/24'), null);
});

test('membership at range edges, odd prefixes, families kept apart', () => {
  const set = new CidrSet(['192.0.2.0/25', '198.51.100.7', '2001:db8:ab00::/40', '10.0.0.0/9']);
  assert.ok(set.has('192.0.2.0'));
  assert.ok(set.has('192.0.2.127'));
  assert.ok(!set.has('192.0.2.128'));
  assert.ok(set.has('198.51.100.7'));
  assert.ok(!set.has('198.51.100.8'));
  assert.ok(set.has('10.127.255.255'));
  assert.ok(!set.has('10.128.0.0'));
  assert.ok(set.has('2001:db8:abff:ffff::1'));
  assert.ok(!set.has('2001:db8:ac00::1'));
  assert.ok(!set.has('garbage'));
  assert.ok(!set.has(null));
  assert.ok(!new CidrSet(['::/0']).has('1.2.3.4'));
  assert.ok(new CidrSet(['0.0.0.0/0']).has('1.2.3.4'));
});

test('invalid entries are reported, not matched', () => {
  const set = new CidrSet(['nonsense', '1.2.3.4/40', '5.6.7.8']);
  assert.deepEqual(set.invalid, ['nonsense', '1.2.3.4/40']);
  assert.equal(set.size, 1);
});

test('loopback', () => {
  assert.ok(isLoopback('127.0.0.1'));
  assert.ok(isLoopback('127.8.9.10'));
  assert.ok(isLoopback('::1'));
  assert.ok(isLoopback('::ffff:127.0.0.1'));
  assert.ok(!isLoopback('10.0.0.1'));
  assert.ok(!isLoopback('::2'));
});

test('IPv6 syntax: what is and is not an address', () => {
  for (const ok of ['::', '::1', '1::', '2001:db8::1', '2001:db8:0:0:0:0:0:1', '::ffff:1.2.3.4', '64:ff9b::192.0.2.33', 'fe80::1%eth0', '1:2:3:4:5:6:7::']) {
    assert.ok(parseIp(ok), ok);
  }
  for (const bad of [':::', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7', '::1.2.3', '::256.1.1.1', '1:2:3:4:5:6:7:8::', ':1', '1:']) {
    assert.equal(parseIp(bad), null, bad);
  }
  assert.equal(formatIp(parseIp('64:ff9b::192.0.2.33')!), '64:ff9b::c000:221');
  assert.equal(parseIp('01.2.3.4'), null, 'no leading zeros in IPv4');
});
