/**
 * Smarthost delivery: all outbound mail (or mail for some domains) through a
 * configured relay with port, TLS mode and credentials, the way an office
 * behind its provider's outbound server works.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { Config, SmarthostConfig } from '../../src/config/schema.js';
import { createDnsResolver } from '../../src/delivery/outbound/dns.js';
import { startSmtpSink, startTestDns, type SinkOptions, type SmtpSink, type TestDns } from '../../src/delivery/outbound/testing.js';
import { QueueRunner } from '../../src/delivery/queue/runner.js';
import type { QueueRecipient } from '../../src/store/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let dns: TestDns;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  // The DNS knows nothing: with a smarthost, recipient domains are never looked up.
  dns = await startTestDns({});
  server = await startTestServer({ smtp: { dnsServers: [dns.server] } }, { services: [] });
  await server.addUser('alice@example.org', 'pw');
});
after(async () => {
  await server.stop();
  await dns.close();
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const e of await server.store.listQueue()) await server.store.deleteQueueEntry(e.id);
});

async function sink(opts: SinkOptions = {}): Promise<SmtpSink> {
  const s = await startSmtpSink(opts);
  cleanups.push(() => s.close());
  return s;
}

const relay = (port: number, over: Partial<SmarthostConfig> = {}): SmarthostConfig => ({
  host: '127.0.0.1',
  port,
  tls: 'starttls',
  domains: [],
  insecure: true,
  ...over,
});

function runner(queue: Partial<Config['queue']>): QueueRunner {
  const config: Config = { ...server.config, queue: { ...server.config.queue, timeout: 3, ...queue } };
  const r = new QueueRunner({
    store: server.store,
    config,
    route: server.route,
    logger: pino({ level: 'silent' }),
    resolver: createDnsResolver([dns.server], { timeoutMs: 300, tries: 1 }),
    owner: `t-${randomBytes(3).toString('hex')}`,
    idleMs: 100,
  });
  cleanups.push(() => r.stop());
  return r;
}

const send = (to: string, subject = 'via relay') =>
  server.deliver(to, `From: alice@example.org\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nhello\r\n`, 'alice@example.org');

async function recipient(address: string): Promise<QueueRecipient> {
  for (const e of await server.store.listQueue()) {
    const r = e.recipients.find((x) => x.address === address);
    if (r) return r;
  }
  throw new Error(`no queue recipient ${address}`);
}

test('all outbound mail goes through the smarthost with STARTTLS and AUTH; no DNS lookup of recipient domains', async () => {
  const s = await sink({ auth: { user: 'office', pass: 's3cret' } });
  const r = runner({ smarthost: relay(s.port, { username: 'office', password: 's3cret' }) });
  await send('bob@anywhere.test');
  await send('carol@elsewhere.test');
  await r.runOnce();
  assert.equal(s.messages.length, 2);
  assert.ok(s.messages.every((m) => m.secure && m.user === 'office'));
  assert.equal((await recipient('bob@anywhere.test')).state, 'delivered');
  assert.match((await recipient('bob@anywhere.test')).lastHost!, /^127\.0\.0\.1:\d+$/);
  assert.equal(dns.queries.filter((q) => q.type === 'MX').length, 0);
});

test('per-domain smarthosts take their domains (and subdomains); the rest goes to the default one', async () => {
  const main = await sink();
  const partner = await sink({ starttls: false });
  const r = runner({
    smarthost: relay(main.port, { tls: 'opportunistic' }),
    smarthosts: [relay(partner.port, { tls: 'none', domains: ['partner.test'] })],
  });
  await send('x@partner.test');
  await send('y@eu.partner.test');
  await send('z@other.test');
  await r.runOnce();
  assert.deepEqual(partner.messages.map((m) => m.to[0]).sort(), ['x@partner.test', 'y@eu.partner.test']);
  assert.deepEqual(main.messages.map((m) => m.to[0]), ['z@other.test']);
  assert.equal(partner.messages[0]!.secure, false);
});

test('implicit TLS smarthost; a certificate that does not verify is refused unless insecure', async () => {
  const s = await sink({ secure: true });
  const checked = runner({ smarthost: relay(s.port, { tls: 'implicit', insecure: false }) });
  await send('v@verify.test');
  await checked.runOnce();
  const r1 = await recipient('v@verify.test');
  assert.equal(r1.state, 'deferred', 'a self-signed relay certificate is not trusted by default');
  assert.match(r1.lastReply!, /^451 4\.7\.5 TLS handshake/);

  const lax = runner({ smarthost: relay(s.port, { tls: 'implicit', insecure: true }) });
  await server.store.rescheduleQueue('all', new Date(0));
  await lax.runOnce();
  assert.equal((await recipient('v@verify.test')).state, 'delivered');
  assert.equal(s.messages[0]!.secure, true);
});

test('wrong credentials and a relay without STARTTLS (when required) keep the mail, deferred with the reason', async () => {
  const s = await sink({ auth: { user: 'office', pass: 's3cret' } });
  const r = runner({ smarthost: relay(s.port, { username: 'office', password: 'wrong' }) });
  await send('w@wrong.test');
  await r.runOnce();
  const w = await recipient('w@wrong.test');
  assert.equal(w.state, 'deferred');
  assert.match(w.lastReply!, /^535 /);

  const plain = await sink({ starttls: false });
  const r2 = runner({ smarthost: relay(plain.port, { tls: 'starttls' }) });
  await send('p@plain.test');
  await r2.runOnce();
  const p = await recipient('p@plain.test');
  assert.equal(p.state, 'deferred', 'never in plaintext when STARTTLS is required');
  assert.equal(plain.messages.length, 0);
});

test('the smarthost connection limit holds (default 5; here 2) and mail still all goes', async () => {
  const s = await sink({ maxClients: 2, data: () => new Promise((res) => setTimeout(() => res(null), 20)) });
  const r = runner({ smarthost: relay(s.port, { tls: 'none' }), connectionsPerHost: 2, messagesPerConnection: 5 });
  for (let i = 0; i < 20; i++) await send(`n${i}@many.test`, `n${i}`);
  await r.runOnce();
  assert.equal(s.messages.length, 20);
  assert.ok(s.connections.max <= 2, `max ${s.connections.max} connections`);
  assert.ok(s.connections.total >= 4, 'at most 5 messages per connection');
});
