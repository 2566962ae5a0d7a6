import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMailbox, type MailAddress } from './address.js';
import {
  checkConnect,
  checkHelo,
  checkRecipient,
  checkSender,
  checkSubmissionSender,
  compileAccessPolicy,
  compileRelayPolicy,
  type RelayPolicy,
} from './policy.js';

const LOCAL = new Set(['local.example']);

function addr(s: string): MailAddress {
  const r = parseMailbox(s);
  if (!r.ok) throw new Error(`${s}: ${r.reason}`);
  return r.address;
}

function decide(p: RelayPolicy, client: { ip: string; authenticated: boolean }, rcpt: string) {
  const a = addr(rcpt);
  return checkRecipient(p, client, a, LOCAL.has(a.domain));
}

const anon = { ip: '203.0.113.9', authenticated: false };
const authed = { ip: '203.0.113.9', authenticated: true };
const trustedClient = { ip: '10.1.2.3', authenticated: false };

const modes: Record<string, RelayPolicy> = {
  none: compileRelayPolicy([], { authenticated: false }),
  authenticated: compileRelayPolicy([], { authenticated: true }),
  trusted: compileRelayPolicy([{ kind: 'trustedIp', value: '10.0.0.0/8' }], { authenticated: false }),
  listed: compileRelayPolicy(
    [
      { kind: 'domain', value: 'backup.example' },
      { kind: 'domain', value: '.sub.example' },
      { kind: 'address', value: 'Gateway@Partner.example' },
    ],
    { authenticated: false },
  ),
};

test('local recipients are accepted from anyone in every mode', () => {
  for (const [name, p] of Object.entries(modes)) {
    for (const c of [anon, authed, trustedClient]) {
      assert.deepEqual(decide(p, c, 'alice@local.example'), { kind: 'accept', destination: 'local' }, name);
      assert.deepEqual(decide(p, c, 'alice@LOCAL.example.'), { kind: 'accept', destination: 'local' }, name);
    }
  }
});

test('mode none: nobody relays', () => {
  for (const c of [anon, authed, trustedClient]) {
    const v = decide(modes.none!, c, 'bob@remote.example');
    assert.equal(v.kind, 'reject');
    assert.equal(v.kind === 'reject' && v.reply.code, 554);
    assert.equal(v.kind === 'reject' && v.reply.enhanced, '5.7.1');
  }
});

test('mode authenticated: only authenticated clients relay', () => {
  assert.deepEqual(decide(modes.authenticated!, authed, 'bob@remote.example'), { kind: 'accept', destination: 'relay' });
  assert.equal(decide(modes.authenticated!, anon, 'bob@remote.example').kind, 'reject');
  assert.equal(decide(modes.authenticated!, trustedClient, 'bob@remote.example').kind, 'reject');
});

test('mode trusted hosts: addresses in the ranges relay without auth, others do not', () => {
  assert.deepEqual(decide(modes.trusted!, trustedClient, 'bob@remote.example'), { kind: 'accept', destination: 'relay' });
  assert.deepEqual(decide(modes.trusted!, { ip: '::ffff:10.9.9.9', authenticated: false }, 'bob@remote.example'), {
    kind: 'accept',
    destination: 'relay',
  });
  assert.equal(decide(modes.trusted!, anon, 'bob@remote.example').kind, 'reject');
  assert.equal(decide(modes.trusted!, { ip: '11.0.0.1', authenticated: false }, 'bob@remote.example').kind, 'reject');
  // authenticated relay is off in this policy
  assert.equal(decide(modes.trusted!, authed, 'bob@remote.example').kind, 'reject');
});

test('mode listed: listed domains/addresses from anyone, nothing else', () => {
  const p = modes.listed!;
  assert.deepEqual(decide(p, anon, 'x@backup.example'), { kind: 'accept', destination: 'relay' });
  assert.deepEqual(decide(p, anon, 'x@deep.sub.example'), { kind: 'accept', destination: 'relay' });
  assert.deepEqual(decide(p, anon, 'x@sub.example'), { kind: 'accept', destination: 'relay' });
  assert.equal(decide(p, anon, 'x@mx.backup.example').kind, 'reject', 'subdomains only when written with a dot');
  assert.deepEqual(decide(p, anon, 'gateway@partner.example'), { kind: 'accept', destination: 'relay' });
  assert.equal(decide(p, anon, 'other@partner.example').kind, 'reject');
  assert.equal(decide(p, anon, 'bob@remote.example').kind, 'reject');
  assert.equal(decide(p, anon, 'x@backup.example.evil.example').kind, 'reject');
});

test('open-relay tricks are refused for untrusted clients in every mode', () => {
  const tricks = [
    'bob%remote.example@local.example',
    'remote.example!bob@local.example',
    '"bob@remote.example"@local.example',
    '"bob%remote.example"@local.example',
    '<@local.example:bob@remote.example>',
    '@local.example,@local.example:bob@remote.example',
    'bob@[192.0.2.1]',
    'bob@[IPv6:2001:db8::1]',
    'bob@[127.0.0.1]',
    'bob@remote.example.',
    'bob%remote.example@backup.example',
    'remote.example!bob@backup.example',
  ];
  for (const [name, p] of Object.entries(modes)) {
    for (const t of tricks) {
      const v = decide(p, anon, t);
      assert.equal(v.kind, 'reject', `${name}: ${t}`);
      assert.ok(v.kind === 'reject' && v.reply.code >= 550 && v.reply.enhanced === '5.7.1', `${name}: ${t}`);
    }
  }
});

test('routing in a local address is refused even for those who may relay', () => {
  for (const c of [authed, trustedClient]) {
    const v = decide(modes.authenticated!, c, 'bob%remote.example@local.example');
    assert.equal(v.kind, 'reject');
  }
  // but a remote address with such characters is the remote's business when relaying is allowed
  assert.deepEqual(decide(modes.authenticated!, authed, 'bob%x@remote.example'), { kind: 'accept', destination: 'relay' });
});

test('address literals are never local', () => {
  const a = addr('postmaster@[127.0.0.1]');
  assert.equal(checkRecipient(modes.none!, anon, a, true).kind, 'reject');
});

test('access: deny list, allow list, host blocks at connect', () => {
  const p = compileAccessPolicy([
    { kind: 'denyIp', value: '198.51.100.0/24' },
    { kind: 'blockHost', value: 'spammer.example' },
  ]);
  assert.equal(checkConnect(p, '198.51.100.20').kind, 'reject');
  assert.equal(checkConnect(p, '203.0.113.1').kind, 'accept');
  assert.equal(checkConnect(p, '203.0.113.1', 'mx1.spammer.example').kind, 'reject');
  assert.equal(checkConnect(p, '203.0.113.1', 'notspammer.example').kind, 'accept');
  assert.equal(checkConnect(p, '203.0.113.1', '[203.0.113.1]').kind, 'accept');

  const allow = compileAccessPolicy([
    { kind: 'allowIp', value: '192.0.2.0/24' },
    { kind: 'denyIp', value: '192.0.2.66' },
  ]);
  assert.equal(checkConnect(allow, '192.0.2.1').kind, 'accept');
  assert.equal(checkConnect(allow, '192.0.2.66').kind, 'reject', 'deny wins over allow');
  const r = checkConnect(allow, '203.0.113.1');
  assert.equal(r.kind === 'reject' && r.reply.code, 554);
});

test('access: HELO names and senders', () => {
  const p = compileAccessPolicy([
    { kind: 'blockHost', value: 'bad.example' },
    { kind: 'blockSender', value: 'Spam@Example.org' },
    { kind: 'blockSenderDomain', value: 'junk.example' },
  ]);
  assert.equal(checkHelo(p, 'host.bad.example').kind, 'reject');
  assert.equal(checkHelo(p, 'good.example').kind, 'accept');
  assert.equal(checkSender(p, addr('spam@example.org')).kind, 'reject');
  assert.equal(checkSender(p, addr('ham@example.org')).kind, 'accept');
  assert.equal(checkSender(p, addr('x@junk.example')).kind, 'reject');
  assert.equal(checkSender(p, addr('x@mail.junk.example')).kind, 'reject');
  assert.equal(checkSender(p, addr('x@notjunk.example')).kind, 'accept');
  assert.equal(checkSender(p, null).kind, 'accept');
  const r = checkSender(p, addr('x@junk.example'));
  assert.ok(r.kind === 'reject' && r.reply.code === 550 && r.reply.enhanced === '5.7.1');
});

test('submission sender must be one of the user\'s addresses', () => {
  const own = new Set(['alice@local.example', 'a.smith@local.example']);
  assert.equal(checkSubmissionSender(addr('Alice@local.example'), own, '+').kind, 'accept');
  assert.equal(checkSubmissionSender(addr('alice+news@local.example'), own, '+').kind, 'accept');
  assert.equal(checkSubmissionSender(addr('a.smith@LOCAL.example'), own, '+').kind, 'accept');
  assert.equal(checkSubmissionSender(addr('bob@local.example'), own, '+').kind, 'reject');
  assert.equal(checkSubmissionSender(addr('alice@remote.example'), own, '+').kind, 'reject');
  assert.equal(checkSubmissionSender(null, own, '+').kind, 'reject');
});
