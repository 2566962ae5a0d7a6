import { test } from 'node:test';
import assert from 'node:assert/strict';
import { domainWithin, formatAddress, lookupKey, normalizeDomain, parseMailbox, stripSubaddress, type MailAddress } from './address.js';

function ok(input: string): MailAddress {
  const r = parseMailbox(input);
  assert.ok(r.ok, `${input}: ${r.ok ? '' : r.reason}`);
  return r.address;
}
function bad(input: string): string {
  const r = parseMailbox(input);
  assert.ok(!r.ok, `${input} should not parse`);
  return r.reason;
}

test('plain addresses, angle brackets, case', () => {
  assert.deepEqual(ok('Alice@Example.ORG'), { local: 'Alice', domain: 'example.org', ipLiteral: false, routing: null });
  assert.equal(ok('<bob@example.org>').local, 'bob');
  assert.equal(lookupKey(ok('Alice@Example.ORG')), 'alice@example.org');
  assert.equal(ok("o'brien+tag=x@example.org").local, "o'brien+tag=x");
});

test('trailing dot on the domain is the same domain', () => {
  assert.equal(ok('alice@example.org.').domain, 'example.org');
  bad('alice@example.org..');
  bad('alice@.example.org');
});

test('internationalised domains become A-labels; UTF-8 local parts are kept', () => {
  assert.equal(ok('user@bücher.example').domain, 'xn--bcher-kva.example');
  assert.equal(ok('用户@example.org').local, '用户');
  assert.equal(normalizeDomain('XN--BCHER-KVA.example'), 'xn--bcher-kva.example');
});

test('percent hack is detected', () => {
  const a = ok('user%remote.example@local.example');
  assert.equal(a.domain, 'local.example');
  assert.equal(a.routing, 'percent');
});

test('bang path is detected', () => {
  assert.equal(ok('remote.example!user@local.example').routing, 'bang');
});

test('source route is dropped and reported', () => {
  const a = ok('<@local.example:user@remote.example>');
  assert.equal(a.domain, 'remote.example');
  assert.equal(a.local, 'user');
  assert.equal(a.routing, 'sourceRoute');
  assert.equal(ok('@a.example,@b.example:user@c.example').domain, 'c.example');
});

test('quoted local parts are unquoted; an @ inside is reported', () => {
  const a = ok('"user@remote.example"@local.example');
  assert.equal(a.local, 'user@remote.example');
  assert.equal(a.domain, 'local.example');
  assert.equal(a.routing, 'atInLocalPart');
  assert.equal(ok('"alice"@example.org').local, 'alice');
  assert.equal(ok('"alice"@example.org').routing, null);
  assert.equal(ok('"a\\"b"@example.org').local, 'a"b');
  assert.equal(ok('"user%remote"@local.example').routing, 'percent');
  bad('"unterminated@example.org');
  bad('"x"y@example.org');
});

test('address literals', () => {
  const a = ok('user@[192.0.2.1]');
  assert.equal(a.ipLiteral, true);
  assert.equal(a.domain, '[192.0.2.1]');
  assert.equal(ok('user@[IPv6:2001:DB8:0:0::1]').domain, '[IPv6:2001:db8::1]');
  bad('user@[999.1.1.1]');
  bad('user@[192.0.2.1');
});

test('syntax errors', () => {
  assert.equal(bad(''), 'empty address');
  assert.equal(bad('<>'), 'empty address');
  bad('@example.org');
  bad('user');
  bad('user@');
  bad('a@b@example.org');
  bad('.user@example.org');
  bad('user.@example.org');
  bad('us..er@example.org');
  bad('us er@example.org');
  bad('user@exa mple.org');
  bad('user@-example.org');
  bad('user\r\n@example.org');
  bad('user@' + 'a'.repeat(64) + '.org');
});

test('formatAddress quotes only when needed', () => {
  assert.equal(formatAddress({ local: 'alice', domain: 'x.org' }), 'alice@x.org');
  assert.equal(formatAddress({ local: 'a b', domain: 'x.org' }), '"a b"@x.org');
  assert.equal(formatAddress({ local: 'a"b', domain: 'x.org' }), '"a\\"b"@x.org');
});

test('sub-addressing', () => {
  assert.equal(stripSubaddress('user+tag', '+'), 'user');
  assert.equal(stripSubaddress('user+a+b', '+'), 'user');
  assert.equal(stripSubaddress('user-tag', '-'), 'user');
  assert.equal(stripSubaddress('+tag', '+'), '+tag');
  assert.equal(stripSubaddress('user+tag', ''), 'user+tag');
});

test('domainWithin', () => {
  assert.ok(domainWithin('example.org', 'example.org'));
  assert.ok(domainWithin('mx.example.org', 'example.org'));
  assert.ok(!domainWithin('badexample.org', 'example.org'));
});
