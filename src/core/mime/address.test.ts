import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatAddresses, MISSING_HOST, parseAddressList, sortKey } from './address.js';

const a = (name: string | null, mailbox: string | null, host: string | null, adl: string | null = null) => ({ name, adl, mailbox, host });

test('plain, named, quoted, commented and routed addresses', () => {
  assert.deepEqual(parseAddressList('alice@example.org'), [a(null, 'alice', 'example.org')]);
  assert.deepEqual(parseAddressList('Alice <alice@example.org>'), [a('Alice', 'alice', 'example.org')]);
  assert.deepEqual(parseAddressList('"Smith, John" <js@x.org>'), [a('Smith, John', 'js', 'x.org')]);
  assert.deepEqual(parseAddressList('"a \\"q\\" b" <q@x>'), [a('a "q" b', 'q', 'x')]);
  assert.deepEqual(parseAddressList('John Q. Public <jqp@x.org>'), [a('John Q. Public', 'jqp', 'x.org')]);
  assert.deepEqual(parseAddressList('jqp@x.org (John Public)'), [a('John Public', 'jqp', 'x.org')]);
  assert.deepEqual(parseAddressList('Pete (A nice \\) chap) <pete(his account)@silly.test(his host)>'), [a('Pete', 'pete', 'silly.test')]);
  assert.deepEqual(parseAddressList('<@route1,@route2:user@host>'), [a(null, 'user', 'host', '@route1,@route2')]);
  assert.deepEqual(parseAddressList('"john doe"@x.org'), [a(null, '"john doe"', 'x.org')]);
  assert.deepEqual(parseAddressList('u@[192.0.2.1]'), [a(null, 'u', '[192.0.2.1]')]);
  assert.deepEqual(parseAddressList('=?utf-8?q?J=C3=B6rg?= <j@x.de>'), [a('=?utf-8?q?J=C3=B6rg?=', 'j', 'x.de')], 'encoded-words stay raw');
});

test('lists and groups (RFC 3501 group markers)', () => {
  assert.deepEqual(parseAddressList('a@x, B <b@y>,c@z'), [a(null, 'a', 'x'), a('B', 'b', 'y'), a(null, 'c', 'z')]);
  assert.deepEqual(parseAddressList('undisclosed-recipients:;'), [a(null, 'undisclosed-recipients', null), a(null, null, null)]);
  assert.deepEqual(parseAddressList('A Group: a@x, b@y; c@z'), [a(null, 'A Group', null), a(null, 'a', 'x'), a(null, 'b', 'y'), a(null, null, null), a(null, 'c', 'z')]);
  assert.deepEqual(parseAddressList('"Quoted Group": a@x'), [a(null, 'Quoted Group', null), a(null, 'a', 'x'), a(null, null, null)], 'unterminated group is closed');
});

test('broken addresses never throw and keep something useful', () => {
  assert.deepEqual(parseAddressList(''), []);
  assert.deepEqual(parseAddressList(' , ,'), []);
  assert.deepEqual(parseAddressList('<>'), [a(null, 'MISSING_MAILBOX', 'MISSING_DOMAIN')]);
  assert.deepEqual(parseAddressList('(just a comment)'), [a(null, 'MISSING_MAILBOX', 'MISSING_DOMAIN')]);
  assert.deepEqual(parseAddressList('localonly'), [a(null, 'localonly', MISSING_HOST)]);
  assert.deepEqual(parseAddressList('Name <broken'), [a('Name', 'broken', MISSING_HOST)]);
  assert.deepEqual(parseAddressList('A <a@x> B <b@y>'), [a('A', 'a', 'x'), a('B', 'b', 'y')]);
  assert.deepEqual(parseAddressList('"unterminated <u@x>'), [a(null, '"unterminated <u@x>', MISSING_HOST)]);
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (s) => {
      const list = parseAddressList(s);
      for (const x of list) {
        // host NIL only in group markers; a group end is all NIL
        if (x.host === null) assert.ok(x.name === null && x.adl === null);
      }
    }),
    { numRuns: 500 },
  );
});

test('the same answers Dovecot 2.3 gives for an awkward From: line', () => {
  // From Dovecot's ENVELOPE for this header (see the comparison test in dovecot.test.ts).
  assert.deepEqual(parseAddressList('"a\\"b" <c@d>, (just comment), e@f (Real Name), "Q. Q" <@r1,@r2:g@h>, i@[1.2.3.4], <>, Name <>, j'), [
    a('a"b', 'c', 'd'),
    a(null, 'MISSING_MAILBOX', 'MISSING_DOMAIN'),
    a('Real Name', 'e', 'f'),
    a('Q. Q', 'g', 'h', '@r1,@r2'),
    a(null, 'i', '[1.2.3.4]'),
    a(null, 'MISSING_MAILBOX', 'MISSING_DOMAIN'),
    a('Name', 'MISSING_MAILBOX', 'MISSING_DOMAIN'),
    a(null, 'j', 'MISSING_DOMAIN'),
  ]);
  assert.deepEqual(parseAddressList('group: ;, other: a@b, c@d'), [a(null, 'group', null), a(null, null, null), a(null, 'other', null), a(null, 'a', 'b'), a(null, 'c', 'd'), a(null, null, null)]);
  assert.equal(formatAddresses(parseAddressList('<>, Name <>, x@y')), 'x@y', 'fillers are not shown');
});

test('display strings decode encoded-words; sort keys are the first mailbox, lower-case', () => {
  const list = parseAddressList('=?utf-8?q?J=C3=B6rg?= <Joerg@X.de>, grp: m@n;, plain@x');
  assert.equal(formatAddresses(list), 'Jörg <Joerg@X.de>, m@n, plain@x');
  assert.equal(sortKey(list), 'joerg');
  assert.equal(sortKey(parseAddressList('g:;')), '');
  assert.equal(sortKey(null), '');
  assert.equal(formatAddresses(null), '');
});
