import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  candidateAddresses,
  chooseRecipients,
  headerSection,
  normaliseAddress,
  parseAddressList,
  parseHeaderFields,
  receivedFor,
  recipientTiers,
  returnPath,
} from './multidrop.js';

const local = new Set(['alice@firm.test', 'bob@firm.test', 'carol@firm.test', 'sales@firm.test']);
const isLocal = (a: string) => local.has(a);

function choose(raw: string) {
  return chooseRecipients(recipientTiers(Buffer.from(raw)), isLocal);
}

describe('parseAddressList', () => {
  const cases: Array<[string, string[]]> = [
    ['alice@firm.test', ['alice@firm.test']],
    ['Alice <alice@firm.test>', ['alice@firm.test']],
    ['"Smith, Alice" <alice@firm.test>, bob@firm.test', ['alice@firm.test', 'bob@firm.test']],
    ['=?utf-8?Q?M=C3=BCller=2C_Hans?= <hans@firm.test>', ['hans@firm.test']],
    ['Alice <ALICE@FIRM.TEST.>', ['alice@firm.test']],
    ['alice@firm.test (Alice, the boss), bob@firm.test', ['alice@firm.test', 'bob@firm.test']],
    ['(comment (nested, with comma)) alice@firm.test', ['alice@firm.test']],
    ['undisclosed-recipients:;', []],
    ['Team: alice@firm.test, Bob <bob@firm.test>;, carol@firm.test', ['alice@firm.test', 'bob@firm.test', 'carol@firm.test']],
    ['<@relay.test,@other.test:alice@firm.test>', ['alice@firm.test']],
    ['"alice"@firm.test', ['alice@firm.test']],
    ['"john doe"@firm.test', ['"john doe"@firm.test']],
    ['"a\\"b" <x@firm.test>', ['x@firm.test']],
    ['John Smith john@firm.test', ['john@firm.test']],
    ['alice@firm.test, alice@FIRM.test', ['alice@firm.test']],
    ['', []],
    ['not an address', []],
    ['@firm.test, alice@, <>', []],
    ['Alice <alice@firm.test', ['alice@firm.test']],
    ['alice@[192.0.2.1]', ['alice@[192.0.2.1]']],
    ['Jörg <jörg@firm.test>', ['jörg@firm.test']],
    ['a@b..c', []],
    [' ,, alice@firm.test ,,', ['alice@firm.test']],
  ];
  for (const [input, want] of cases) {
    it(`parses ${JSON.stringify(input)}`, () => assert.deepEqual(parseAddressList(input), want));
  }

  it('never throws and only returns local@domain strings (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '@', '<', '>', '"', '(', ')', ',', ';', ':', '\\', ' ', '.', 'x', 'é') , maxLength: 60 }), (s) => {
        for (const a of parseAddressList(s)) {
          assert.match(a, /^.+@.+$/);
          assert.equal(a, a.toLowerCase());
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('normalises or refuses single addresses', () => {
    assert.equal(normaliseAddress('<Bob@Firm.Test>'), 'bob@firm.test');
    assert.equal(normaliseAddress('bob'), null);
    assert.equal(normaliseAddress('bob@'), null);
    assert.equal(normaliseAddress('b,ob@x.test'), null);
  });
});

describe('header section and fields', () => {
  it('stops at the first empty line, CRLF or LF', () => {
    assert.equal(headerSection('To: a@b\r\nSubject: x\r\n\r\nTo: body@x\r\n'), 'To: a@b\r\nSubject: x\r\n');
    assert.equal(headerSection('To: a@b\nSubject: x\n\nTo: body@x\n'), 'To: a@b\nSubject: x\n');
    assert.equal(headerSection('\r\nTo: body@x\r\n'), '');
    assert.equal(headerSection('To: a@b'), 'To: a@b');
  });

  it('unfolds continuation lines and keeps order', () => {
    const f = parseHeaderFields('Received: from a\r\n\tby b\r\n  for <x@y>; date\r\nTo: one@x,\r\n two@x\r\nFrom x Mon Jan 1\r\nbogus line\r\n');
    assert.deepEqual(f, [
      { name: 'received', value: 'from a\tby b  for <x@y>; date' },
      { name: 'to', value: 'one@x, two@x' },
    ]);
  });

  it('bounds the header section it reads', () => {
    const huge = 'X-Junk: ' + 'a'.repeat(300_000) + '\r\nTo: alice@firm.test\r\n\r\nbody';
    assert.ok(headerSection(huge).length <= 256 * 1024);
  });
});

describe('Received for clause', () => {
  it('reads Postfix, Sendmail and Exim styles', () => {
    assert.deepEqual(receivedFor('from mx.example.org (mx.example.org [192.0.2.1]) by mail.firm.test (Postfix) with ESMTPS id 4AB for <alice@firm.test>; Tue, 2 Jan 2024 10:00:00 +0000'), ['alice@firm.test']);
    assert.deepEqual(receivedFor('from x by y (8.15.2/8.15.2) with ESMTP id z for bob@firm.test; Tue, 2 Jan 2024'), ['bob@firm.test']);
    assert.deepEqual(receivedFor('from x by y with esmtp (Exim 4.96) (envelope-from <s@x>) id 1 for carol@firm.test; Tue, 2 Jan 2024'), ['carol@firm.test']);
  });
  it('ignores "for" in comments and in the date', () => {
    assert.deepEqual(receivedFor('from x (looking for <evil@x.test>) by y; Tue'), []);
    assert.deepEqual(receivedFor('from x by y; for <late@x.test>'), []);
    assert.deepEqual(receivedFor('from x by y with SMTP id 1; Tue, 2 Jan'), []);
  });
});

describe('recipient tiers and choice', () => {
  it('prefers Delivered-To (topmost) over everything else', () => {
    const c = choose('Delivered-To: bob@firm.test\r\nDelivered-To: carol@firm.test\r\nX-Original-To: alice@firm.test\r\nTo: alice@firm.test\r\n\r\nx');
    assert.deepEqual(c, { source: 'delivered-to', local: ['bob@firm.test'], nonLocal: [], fallback: false });
  });

  it('skips a Delivered-To that names the provider mailbox itself (Postfix catch-all) and uses X-Original-To', () => {
    const c = choose('Delivered-To: office@provider.test\r\nX-Original-To: carol@firm.test\r\nTo: alice@firm.test\r\n\r\nx');
    assert.deepEqual(c, { source: 'x-original-to', local: ['carol@firm.test'], nonLocal: [], fallback: false });
  });

  it('uses Envelope-To with several recipients; a non-local envelope recipient goes to the fallback', () => {
    const c = choose('Envelope-To: alice@firm.test, stranger@elsewhere.test, bob@firm.test\r\nTo: x@y.test\r\n\r\n');
    assert.deepEqual(c, { source: 'envelope-to', local: ['alice@firm.test', 'bob@firm.test'], nonLocal: ['stranger@elsewhere.test'], fallback: true });
    const x = choose('X-Envelope-To: <sales@firm.test>\r\n\r\n');
    assert.equal(x.source, 'envelope-to');
    assert.deepEqual(x.local, ['sales@firm.test']);
  });

  it('falls back to To, Cc and the newest Received for clause, ignoring outside parties there', () => {
    const raw =
      'Received: from mx.provider.test by pop.provider.test for <bob@firm.test>; Tue, 2 Jan 2024\r\n' +
      'Received: from older by older for <carol@firm.test>; Mon, 1 Jan 2024\r\n' +
      'To: Alice <alice@firm.test>, partner@outside.test\r\nCc: "Team" <sales@FIRM.test>\r\nSubject: hi\r\n\r\nbody To: carol@firm.test\r\n';
    const c = choose(raw);
    assert.deepEqual(c, { source: 'headers', local: ['alice@firm.test', 'sales@firm.test', 'bob@firm.test'], nonLocal: [], fallback: false });
  });

  it('sends a message with no recipient headers to the fallback alone', () => {
    assert.deepEqual(choose('Subject: no recipients\r\nFrom: a@b.test\r\n\r\nbody'), { source: null, local: [], nonLocal: [], fallback: true });
    assert.deepEqual(choose(''), { source: null, local: [], nonLocal: [], fallback: true });
    assert.deepEqual(choose('\r\n\r\nTo: alice@firm.test\r\n'), { source: null, local: [], nonLocal: [], fallback: true });
  });

  it('sends a message only for outsiders to the fallback', () => {
    assert.deepEqual(choose('To: list@lists.outside.test\r\nCc: x@y.test\r\n\r\n'), { source: null, local: [], nonLocal: [], fallback: true });
    assert.deepEqual(choose('Delivered-To: wrong@elsewhere.test\r\n\r\n'), { source: null, local: [], nonLocal: [], fallback: true });
  });

  it('survives a malformed header block', () => {
    const raw = Buffer.from('\u0000\u0001garbage\r\nTo: <<<>>>, "unterminated\r\nCc: bob@firm.test\r\n\r\n');
    const c = chooseRecipients(recipientTiers(raw), isLocal);
    assert.ok(c.fallback || c.local.length > 0);
    const binary = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
    assert.doesNotThrow(() => chooseRecipients(recipientTiers(binary), isLocal));
  });

  it('reads header names in any case, with space before the colon, folded, in bare-LF messages', () => {
    assert.deepEqual(choose('DELIVERED-TO : Bob@FIRM.test (the real one)\r\n\r\n').local, ['bob@firm.test']);
    assert.deepEqual(choose('to: "Carol, C." <carol@firm.test>,\r\n\t(comment, with comma)\r\n alice@firm.test\r\n\r\n').local, ['carol@firm.test', 'alice@firm.test']);
    assert.deepEqual(choose('X-Original-To: bob@firm.test\nTo: alice@firm.test\n\nbody\n').local, ['bob@firm.test']);
    assert.deepEqual(choose('To: a@outside.test\r\nTo: bob@firm.test\r\nCC: alice@firm.test\r\n\r\n').local, ['bob@firm.test', 'alice@firm.test']);
  });

  it('takes only the topmost Delivered-To and X-Original-To (older hops may name others)', () => {
    const c = choose('Delivered-To: office@provider.test\r\nDelivered-To: bob@firm.test\r\nX-Original-To: carol@firm.test\r\nX-Original-To: alice@firm.test\r\n\r\n');
    assert.deepEqual(c, { source: 'x-original-to', local: ['carol@firm.test'], nonLocal: [], fallback: false });
  });

  it('reads several recipients in a Received for clause, and only from the newest Received', () => {
    assert.deepEqual(receivedFor('from a by b with ESMTP for <alice@firm.test>, <bob@firm.test>; Tue, 2 Jan 2024'), ['alice@firm.test', 'bob@firm.test']);
    const c = choose('Received: from a by b; Tue\r\nReceived: from c by d for <bob@firm.test>; Mon\r\nTo: list@outside.test\r\n\r\n');
    assert.deepEqual(c, { source: null, local: [], nonLocal: [], fallback: true });
  });

  it('does not read recipients from the body or from a header-like line after the blank line', () => {
    assert.deepEqual(choose('Subject: x\r\n\r\nDelivered-To: bob@firm.test\r\nTo: alice@firm.test\r\n'), { source: null, local: [], nonLocal: [], fallback: true });
  });

  it('handles groups with quoted separators and an empty group next to real addresses', () => {
    assert.deepEqual(parseAddressList('"Team; A: B" : alice@firm.test, "x;y" <bob@firm.test>; , Empty:;, carol@firm.test'), ['alice@firm.test', 'bob@firm.test', 'carol@firm.test']);
  });

  it('lists every candidate once, for one lookup each', () => {
    const tiers = recipientTiers('Delivered-To: a@x.test\r\nX-Original-To: A@X.test\r\nTo: b@x.test, a@x.test\r\n\r\n');
    assert.deepEqual(candidateAddresses(tiers), ['a@x.test', 'b@x.test']);
  });

  it('reads the Return-Path for MAIL FROM', () => {
    assert.equal(returnPath(parseHeaderFields('Return-Path: <Sender@Example.org>\r\nReturn-Path: <old@x>\r\n')), 'sender@example.org');
    assert.equal(returnPath(parseHeaderFields('Return-Path: <>\r\n')), '');
    assert.equal(returnPath(parseHeaderFields('From: a@b\r\n')), '');
  });

  it('always gives a destination: local recipients or the fallback (property)', () => {
    const addr = fc.constantFrom('alice@firm.test', 'bob@firm.test', 'x@outside.test', 'junk', '<>', '"q"@firm.test');
    const field = fc.tuple(fc.constantFrom('To', 'Cc', 'Delivered-To', 'X-Original-To', 'Envelope-To', 'Received', 'Subject'), fc.array(addr, { maxLength: 3 }));
    fc.assert(
      fc.property(fc.array(field, { maxLength: 8 }), (fields) => {
        const raw = fields.map(([n, a]) => `${n}: ${n === 'Received' ? `from x by y for <${a[0] ?? ''}>; date` : a.join(', ')}\r\n`).join('') + '\r\nbody';
        const c = choose(raw);
        assert.ok(c.local.length > 0 || c.fallback);
        for (const a of c.local) assert.ok(isLocal(a));
        for (const a of c.nonLocal) assert.ok(!isLocal(a));
      }),
      { numRuns: 1000 },
    );
  });
});
