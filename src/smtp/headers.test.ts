import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressesIn, countFields, hasField, isOwnAuthResults, newMessageId, parseHeaderFields, receivedHeader } from './headers.js';

test('parses fields, folded lines and case', () => {
  const f = parseHeaderFields('Received: a\r\n\tb\r\nreceived: c\r\nFrom: "X" <x@y.example>\r\nSubject: hi\r\n');
  assert.equal(countFields(f, 'received'), 2);
  assert.equal(f[0]!.value, 'a b');
  assert.equal(f[0]!.raw, 'Received: a\r\n\tb\r\n');
  assert.ok(hasField(f, 'subject'));
  assert.ok(!hasField(f, 'date'));
});

test('addresses in From:', () => {
  assert.deepEqual(addressesIn('"Alice, A." <alice@example.test>'), ['alice@example.test']);
  assert.deepEqual(addressesIn('alice@example.test, bob@example.test'), ['alice@example.test', 'bob@example.test']);
  assert.deepEqual(addressesIn('alice@example.test (Alice)'), ['alice@example.test']);
  assert.deepEqual(addressesIn('A <a@x.example>, B <b@y.example>'), ['a@x.example', 'b@y.example']);
  assert.deepEqual(addressesIn('undisclosed-recipients:;'), []);
});

test('own Authentication-Results are recognised by authserv-id', () => {
  const [a, b] = parseHeaderFields('Authentication-Results: mail.test; spf=pass\r\nAuthentication-Results: other.example; dkim=pass\r\n');
  assert.ok(isOwnAuthResults(a!, 'MAIL.test'));
  assert.ok(!isOwnAuthResults(b!, 'mail.test'));
});

test('Received field', () => {
  const r = receivedHeader({
    heloName: 'client.example',
    clientHostname: 'host.example',
    clientIp: '192.0.2.1',
    hostname: 'mail.test',
    protocol: 'ESMTPS',
    id: 'abc.1',
    tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
    recipient: 'alice@example.test',
    date: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
  });
  assert.equal(
    r,
    'Received: from client.example (host.example [192.0.2.1])\r\n\tby mail.test (mailroom) with ESMTPS (TLSv1.3 TLS_AES_256_GCM_SHA384) id abc.1\r\n\tfor <alice@example.test>; Tue, 02 Jan 2024 03:04:05 +0000\r\n',
  );
  const v6 = receivedHeader({ heloName: null, clientHostname: null, clientIp: '2001:db8::1', hostname: 'm', protocol: 'ESMTP', id: 'i', date: new Date(0) });
  assert.match(v6, /^Received: from \[IPv6:2001:db8::1\] \(\[IPv6:2001:db8::1\]\)\r\n\tby m \(mailroom\) with ESMTP id i;\r\n\tThu, 01 Jan 1970 00:00:00 \+0000\r\n$/);
});

test('message ids are unique and carry the host name', () => {
  const a = newMessageId('mail.test');
  assert.match(a, /^<[^@<>\s]+@mail\.test>$/);
  assert.notEqual(a, newMessageId('mail.test'));
});
