/**
 * The outbound queue end to end: mail queued through mailroom (route() and the
 * SMTP submission listener), delivered by the queue runner to real SMTP
 * servers on loopback found through a real DNS server on loopback, with a test
 * clock driving retries, expiry and warnings.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import nodemailer from 'nodemailer';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { createSecrets } from '../../src/auth/secrets.js';
import type { Config } from '../../src/config/schema.js';
import { DkimSigner, dkimDnsRecord, generateDkimKey, saveDkimKey } from '../../src/delivery/dkim.js';
import { createDnsResolver } from '../../src/delivery/outbound/dns.js';
import { rawGreet, startRawSmtp, startSmtpSink, startTestDns, type SinkOptions, type SmtpSink, type TestDns } from '../../src/delivery/outbound/testing.js';
import { ManualClock } from '../../src/delivery/queue/clock.js';
import { QueueRunner, type RunnerOptions } from '../../src/delivery/queue/runner.js';
import type { QueueEntry, User } from '../../src/store/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let dns: TestDns;
let alice: User;
const secrets = createSecrets(randomBytes(32));
const logLines: Array<Record<string, unknown>> = [];
const logger = pino(
  { level: 'info' },
  new Writable({
    write(chunk, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) logLines.push(JSON.parse(l));
      cb();
    },
  }),
);
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  dns = await startTestDns({
    'remote.test': { mx: [{ exchange: 'mx.remote.test', priority: 10 }] },
    'mx.remote.test': { a: ['127.0.0.1'] },
    'implicit.test': { a: ['127.0.0.1'] },
    'nullmx.test': { nullMx: true },
    'servfail.test': { rcode: 'SERVFAIL' },
    'silent.test': { silent: true },
    'failover.test': {
      mx: [
        { exchange: 'dead.failover.test', priority: 5 },
        { exchange: 'alive.failover.test', priority: 10 },
      ],
    },
    // Nothing listens on 127.0.0.2: connection refused.
    'dead.failover.test': { a: ['127.0.0.2'] },
    'alive.failover.test': { a: ['127.0.0.1'] },
  });
  server = await startTestServer({ smtp: { dnsServers: [dns.server] }, relay: { authenticated: true } }, { services: ['smtp'] });
  alice = await server.addUser('alice@example.org', 'alice-password');
});

after(async () => {
  await server.stop();
  await dns.close();
});

afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  // Each case starts with an empty queue.
  for (const e of await server.store.listQueue()) await server.store.deleteQueueEntry(e.id);
  logLines.splice(0);
});

async function sink(opts: SinkOptions = {}): Promise<SmtpSink> {
  const s = await startSmtpSink(opts);
  cleanups.push(() => s.close());
  return s;
}

function runnerFor(port: number, queue: Partial<Config['queue']> = {}, clock = new ManualClock(Date.now() + 10_000), extra: Partial<RunnerOptions> = {}) {
  const config: Config = { ...server.config, queue: { ...server.config.queue, remotePort: port, timeout: 2, ...queue } };
  const runner = new QueueRunner({
    store: server.store,
    config,
    route: server.route,
    logger,
    resolver: createDnsResolver([dns.server], { timeoutMs: 300, tries: 1 }),
    dkim: new DkimSigner(server.store, secrets, 0),
    clock,
    pollMs: 50,
    idleMs: 100,
    owner: `test-${randomBytes(3).toString('hex')}`,
    ...extra,
  });
  cleanups.push(() => runner.stop());
  return { runner, clock, config };
}

const msg = (subject: string, from = 'alice@example.org') =>
  `From: Alice <${from}>\r\nTo: someone@remote.test\r\nSubject: ${subject}\r\nMessage-ID: <${randomBytes(6).toString('hex')}@example.org>\r\n\r\nHello from the queue.\r\n`;

async function onlyEntry(): Promise<QueueEntry> {
  const all = await server.store.listQueue();
  assert.equal(all.length, 1, `expected one queue entry, found ${all.length}`);
  return all[0]!;
}

async function inbox(user: User): Promise<string[]> {
  const box = await server.store.getMailbox(user.id, 'INBOX');
  const metas = await server.store.listMessages(box!.id);
  return Promise.all(metas.map(async (m) => (await server.store.blobs.read(m.blobId)).toString()));
}

describe('direct delivery by MX', () => {
  test('250: delivered once, over STARTTLS, DKIM-signed with the domain key; one log line per attempt', async () => {
    const key = generateDkimKey('example.org', { selector: 'q1' });
    await saveDkimKey(server.store, secrets, key);
    const s = await sink();
    const { runner } = runnerFor(s.port);
    await server.deliver('bob@remote.test', msg('signed'), 'alice@example.org');
    assert.equal(await runner.runOnce(), 1);
    assert.equal(s.messages.length, 1);
    assert.deepEqual(s.messages[0]!.to, ['bob@remote.test']);
    assert.equal(s.messages[0]!.from, 'alice@example.org');
    assert.equal(s.messages[0]!.secure, true, 'opportunistic STARTTLS was used');
    const rec = dkimDnsRecord(key);
    const verified = await dkimVerify(s.messages[0]!.raw, {
      resolver: (async (name: string, type: string) => {
        if (type === 'TXT' && name === rec.name) return [[rec.value]];
        throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
      }) as never,
    });
    assert.equal(verified.results[0]?.status.result, 'pass');
    const entry = await onlyEntry();
    assert.equal(entry.recipients[0]!.state, 'delivered');
    assert.equal(entry.recipients[0]!.attempts, 1);
    assert.match(entry.recipients[0]!.lastReply!, /^250 /);
    assert.match(entry.recipients[0]!.lastHost!, /^mx\.remote\.test\[127\.0\.0\.1\]:\d+$/);
    const line = logLines.find((l) => l.msg === 'delivered');
    assert.ok(line, 'a log line for the delivery');
    assert.equal(line.queueId, entry.id);
    assert.equal(line.rcpt, 'bob@remote.test');
    assert.match(String(line.host), /mx\.remote\.test/);
    assert.match(String(line.reply), /^250 /);
    assert.ok(typeof line.delay === 'string');
    // A second run sends nothing again.
    assert.equal(await runner.runOnce(), 0);
    assert.equal(s.messages.length, 1);
    await server.store.setSetting('dkim:example.org', '');
  });

  test('recipients of one domain share one connection and one transaction; the implicit MX (A record) is used', async () => {
    const s = await sink();
    const { runner } = runnerFor(s.port);
    await server.route(
      { mailFrom: 'alice@example.org', rcptTo: [{ address: 'a@remote.test' }, { address: 'b@remote.test' }, { address: 'c@implicit.test' }], source: 'submission' },
      (await import('../../src/store/ingest.js').then((m) => m.ingest(server.store.blobs, Buffer.from(msg('together'))))).blob,
    );
    await runner.runOnce();
    const together = s.messages.find((m) => m.to.includes('a@remote.test'))!;
    assert.deepEqual(together.to.sort(), ['a@remote.test', 'b@remote.test']);
    assert.ok(s.messages.some((m) => m.to.join() === 'c@implicit.test'), 'implicit MX delivery');
    assert.equal(s.messages.length, 2);
  });

  test('550: bounced at once; the sender gets a DSN with the remote reply and the original headers', async () => {
    const s = await sink({ rcpt: (a) => (a.startsWith('nobody') ? { code: 550, message: '5.1.1 <nobody@remote.test>: Recipient address rejected: User unknown' } : null) });
    const { runner } = runnerFor(s.port);
    const before = (await inbox(alice)).length;
    await server.deliver('nobody@remote.test', msg('to nobody'), 'alice@example.org');
    await runner.runOnce();
    const entry = await onlyEntry();
    assert.equal(entry.recipients[0]!.state, 'bounced');
    assert.match(entry.recipients[0]!.lastReply!, /^550 5\.1\.1 <nobody@remote\.test>: Recipient address rejected/);
    const mails = await inbox(alice);
    assert.equal(mails.length, before + 1, 'the bounce is in the sender\'s INBOX');
    const dsn = mails.at(-1)!;
    assert.match(dsn, /^From: Mail Delivery System <MAILER-DAEMON@mail\.test>/m);
    assert.match(dsn, /Content-Type: multipart\/report; report-type=delivery-status/);
    assert.match(dsn, /Action: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.remote\.test\r\nDiagnostic-Code: smtp; 550 5\.1\.1 <nobody@remote\.test>: Recipient address rejected: User unknown/);
    assert.match(dsn, /Content-Type: text\/rfc822-headers\r\n\r\nFrom: Alice <alice@example\.org>\r\nTo: someone@remote\.test\r\nSubject: to nobody/);
    assert.match(dsn, new RegExp(`X-Mailroom-Queue-ID: ${entry.id}`));
    assert.equal(s.messages.length, 0);
  });

  test('partial acceptance: each recipient ends in its own state, and only the failed one is bounced', async () => {
    const s = await sink({
      rcpt: (a) => (a.startsWith('gone') ? { code: 550, message: '5.1.1 No such user' } : a.startsWith('full') ? { code: 452, message: '4.2.2 Mailbox full' } : null),
    });
    const { runner, clock } = runnerFor(s.port);
    const before = (await inbox(alice)).length;
    const { ingest } = await import('../../src/store/ingest.js');
    const { blob } = await ingest(server.store.blobs, Buffer.from(msg('partial')));
    await server.route({ mailFrom: 'alice@example.org', rcptTo: ['ok', 'gone', 'full'].map((l) => ({ address: `${l}@remote.test` })), source: 'submission' }, blob);
    await runner.runOnce();
    const entry = await onlyEntry();
    const state = Object.fromEntries(entry.recipients.map((r) => [r.address, r.state]));
    assert.deepEqual(state, { 'ok@remote.test': 'delivered', 'gone@remote.test': 'bounced', 'full@remote.test': 'deferred' });
    const full = entry.recipients.find((r) => r.address === 'full@remote.test')!;
    assert.equal(full.nextAttemptAt.getTime(), clock.now().getTime() + 60_000, 'first retry one minute later');
    assert.deepEqual(s.messages.map((m) => m.to), [['ok@remote.test']]);
    const mails = await inbox(alice);
    assert.equal(mails.length, before + 1);
    assert.match(mails.at(-1)!, /Final-Recipient: rfc822; gone@remote\.test/);
    assert.ok(!mails.at(-1)!.includes('Final-Recipient: rfc822; ok@remote.test'));
  });

  test('450 and 421: deferred, retried on the back-off schedule, delivered when the remote recovers', async () => {
    let refuse = true;
    const s = await sink({ rcpt: () => (refuse ? { code: 450, message: '4.7.1 Greylisted, try again later' } : null) });
    const { runner, clock } = runnerFor(s.port);
    const t0 = clock.now().getTime();
    await server.deliver('grey@remote.test', msg('greylisted'), 'alice@example.org');
    await runner.runOnce();
    let r = (await onlyEntry()).recipients[0]!;
    assert.equal(r.state, 'deferred');
    assert.match(r.lastReply!, /^450 4\.7\.1 Greylisted/);
    assert.equal(r.nextAttemptAt.getTime(), t0 + 60_000);

    // Not due yet: nothing happens.
    clock.set(new Date(t0 + 59_000));
    assert.equal(await runner.runOnce(), 0);
    clock.set(new Date(t0 + 60_000));
    assert.equal(await runner.runOnce(), 1);
    r = (await onlyEntry()).recipients[0]!;
    assert.equal(r.attempts, 2);
    assert.equal(r.nextAttemptAt.getTime(), t0 + 60_000 + 300_000, 'then five minutes');

    clock.set(new Date(t0 + 360_000));
    refuse = false;
    assert.equal(await runner.runOnce(), 1);
    r = (await onlyEntry()).recipients[0]!;
    assert.equal(r.state, 'delivered');
    assert.equal(r.attempts, 3);
    assert.equal(s.deliveredTo('grey@remote.test'), 1);
  });

  test('too many connections (421 at connect) defers; the connection limit is never exceeded', async () => {
    const s = await sink({ maxClients: 3, data: () => new Promise((r) => setTimeout(() => r(null), 30)) });
    const { runner } = runnerFor(s.port, { connectionsPerHost: 3, messagesPerConnection: 4, concurrency: 20 });
    for (let i = 0; i < 24; i++) await server.deliver(`user${i}@remote.test`, msg(`limit ${i}`), 'alice@example.org');
    await runner.runOnce();
    assert.equal(s.messages.length, 24, 'all delivered, none refused with 421');
    assert.ok(s.connections.max <= 3, `at most 3 connections at once (saw ${s.connections.max})`);
    assert.ok(s.connections.total >= 6, `a connection carries at most 4 messages (saw ${s.connections.total} connections)`);
    assert.equal(runner.pool.peak.get(`mx.remote.test:${s.port}`), 3);

    // A provider that refuses the connection with 421: temporary.
    const busy = await startRawSmtp(async (c) => {
      c.write('421 4.7.0 Too many connections from your IP, try again later');
      c.close();
    });
    cleanups.push(() => busy.close());
    const r2 = runnerFor(busy.port).runner;
    for (const e of await server.store.listQueue()) await server.store.deleteQueueEntry(e.id);
    await server.deliver('later@remote.test', msg('busy'), 'alice@example.org');
    await r2.runOnce();
    const rec = (await onlyEntry()).recipients[0]!;
    assert.equal(rec.state, 'deferred');
    assert.match(rec.lastReply!, /^421 4\.7\.0 Too many connections/);
  });

  test('slow replies within the timeout deliver; a remote that hangs is deferred', async () => {
    const slow = await sink({ data: () => new Promise((r) => setTimeout(() => r(null), 800)) });
    const { runner } = runnerFor(slow.port, { timeout: 2 });
    await server.deliver('slow@remote.test', msg('slow'), 'alice@example.org');
    await runner.runOnce();
    assert.equal((await onlyEntry()).recipients[0]!.state, 'delivered');
    for (const e of await server.store.listQueue()) await server.store.deleteQueueEntry(e.id);

    const hang = await startRawSmtp(async (c) => {
      if (!(await rawGreet(c))) return;
      await c.readLine(); // MAIL FROM: never answered
      await new Promise((r) => setTimeout(r, 5000));
    });
    cleanups.push(() => hang.close());
    const h = runnerFor(hang.port, { timeout: 1 }).runner;
    await server.deliver('hang@remote.test', msg('hang'), 'alice@example.org');
    const started = Date.now();
    await h.runOnce();
    assert.ok(Date.now() - started < 4000, 'the timeout bounds the wait');
    const r = (await onlyEntry()).recipients[0]!;
    assert.equal(r.state, 'deferred');
    assert.match(r.lastReply!, /Timed out/);
  });

  test('stop() while a remote hangs returns within its bound: the one in transaction is deferred, the one waiting for a slot is left untried', async () => {
    const hang = await startRawSmtp(async (c) => {
      if (!(await rawGreet(c))) return;
      await c.readLine(); // MAIL FROM: never answered
      await new Promise((r) => setTimeout(r, 10_000));
    });
    cleanups.push(() => hang.close());
    const { runner } = runnerFor(hang.port, { timeout: 60, connectionsPerHost: 1 }, undefined, { stopTimeoutMs: 300 });
    await server.deliver('stuck@remote.test', msg('stuck'), 'alice@example.org');
    await server.deliver('waiting@remote.test', msg('waiting'), 'alice@example.org');
    await runner.start();
    for (let i = 0; i < 100 && hang.connections === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(hang.connections, 1, 'one connection per host: the second message waits');
    const started = Date.now();
    await runner.stop();
    assert.ok(Date.now() - started < 3000, `stopped in ${Date.now() - started} ms`);
    const by = Object.fromEntries((await server.store.listQueue()).map((e) => [e.recipients[0]!.address, e.recipients[0]!]));
    assert.equal(by['stuck@remote.test']!.state, 'deferred');
    assert.equal(by['stuck@remote.test']!.attempts, 1);
    assert.equal(by['waiting@remote.test']!.state, 'queued', 'not tried, so no attempt counted');
    assert.equal(by['waiting@remote.test']!.attempts, 0);
    assert.ok(by['waiting@remote.test']!.nextAttemptAt.getTime() <= Date.now(), 'still due');
    const claimable = await server.store.claimQueue('other-node', new Date(Date.now() + 20_000), 10, 1000);
    assert.ok(claimable.some((c) => c.entry.recipients[0]!.address === 'waiting@remote.test'), 'its lease was released');
  });

  test('dropped connection mid-transaction and garbage replies are deferred; nothing is delivered twice', async () => {
    let mode: 'drop' | 'garbage' | 'ok' = 'drop';
    let received = 0;
    const raw = await startRawSmtp(async (c) => {
      if (!(await rawGreet(c))) return;
      for (;;) {
        const l = await c.readLine();
        if (l === null) return;
        if (/^MAIL/i.test(l)) c.write(mode === 'garbage' ? 'who are you?' : '250 2.1.0 ok');
        else if (/^RCPT/i.test(l)) c.write('250 2.1.5 ok');
        else if (/^DATA/i.test(l)) {
          c.write('354 go');
          const body = await c.readData();
          if (body === null) return;
          if (mode === 'drop') return c.close();
          received++;
          c.write('250 2.0.0 queued');
        } else if (/^RSET/i.test(l)) c.write('250 ok');
        else if (/^QUIT/i.test(l)) {
          c.write('221 bye');
          return c.close();
        } else c.write('502 5.5.1 what');
      }
    });
    cleanups.push(() => raw.close());
    const { runner, clock } = runnerFor(raw.port);
    await server.deliver('drop@remote.test', msg('drop'), 'alice@example.org');
    await runner.runOnce();
    let r = (await onlyEntry()).recipients[0]!;
    assert.equal(r.state, 'deferred');
    assert.match(r.lastReply!, /^451 4\.4\.2 Lost connection .* \(in reply to end of DATA\)/);

    mode = 'garbage';
    clock.advance(60_000);
    await runner.runOnce();
    r = (await onlyEntry()).recipients[0]!;
    assert.equal(r.state, 'deferred');
    assert.match(r.lastReply!, /Protocol error: .* said: who are you\?/);

    mode = 'ok';
    clock.advance(300_000);
    await runner.runOnce();
    r = (await onlyEntry()).recipients[0]!;
    assert.equal(r.state, 'delivered');
    assert.equal(received, 1);
  });

  test('null MX and NXDOMAIN bounce; SERVFAIL and a DNS timeout defer; a malformed recipient in the queue bounces', async () => {
    const s = await sink();
    const { runner } = runnerFor(s.port);
    const { ingest } = await import('../../src/store/ingest.js');
    const { blob } = await ingest(server.store.blobs, Buffer.from(msg('dns')));
    await server.store.enqueue({
      sender: 'alice@example.org',
      blob,
      source: 'test',
      recipients: [
        { address: 'x@nullmx.test' },
        { address: 'x@nxdomain.test' },
        { address: 'x@servfail.test' },
        { address: 'x@silent.test' },
        { address: 'bad address@@remote.test' },
      ],
    });
    await runner.runOnce();
    const e = await onlyEntry();
    const by = Object.fromEntries(e.recipients.map((r) => [r.address, r]));
    assert.equal(by['x@nullmx.test']!.state, 'bounced');
    assert.match(by['x@nullmx.test']!.lastReply!, /^556 5\.1\.10 /);
    assert.equal(by['x@nxdomain.test']!.state, 'bounced');
    assert.match(by['x@nxdomain.test']!.lastReply!, /^550 5\.1\.2 Host or domain name not found/);
    assert.equal(by['x@servfail.test']!.state, 'deferred');
    assert.match(by['x@servfail.test']!.lastReply!, /^451 4\.4\.3 .*SERVFAIL/);
    assert.equal(by['x@silent.test']!.state, 'deferred');
    assert.match(by['x@silent.test']!.lastReply!, /^451 4\.4\.3 .*timed out/);
    assert.equal(by['bad address@@remote.test']!.state, 'bounced');
    assert.match(by['bad address@@remote.test']!.lastReply!, /^553 5\.1\.3 Bad recipient address syntax/);
    const dsn = (await inbox(alice)).at(-1)!;
    for (const a of ['x@nullmx.test', 'x@nxdomain.test']) assert.ok(dsn.includes(`Final-Recipient: rfc822; ${a}`));
    assert.ok(!dsn.includes('Final-Recipient: rfc822; x@servfail.test'));
    assert.equal(s.messages.length, 0);
  });

  test('several MX hosts are tried in preference order: a dead primary falls through to the backup', async () => {
    const s = await sink();
    const { runner } = runnerFor(s.port);
    await server.deliver('x@failover.test', msg('failover'), 'alice@example.org');
    await runner.runOnce();
    const r = (await onlyEntry()).recipients[0]!;
    assert.equal(r.state, 'delivered');
    assert.match(r.lastHost!, /^alive\.failover\.test/);
    assert.equal(s.deliveredTo('x@failover.test'), 1);
  });

  test('a STARTTLS that breaks: delivered again at once in plaintext', async () => {
    let plain = 0;
    const raw = await startRawSmtp(async (c) => {
      c.write('220 raw.test ESMTP');
      for (;;) {
        const l = await c.readLine();
        if (l === null) return;
        if (/^EHLO/i.test(l)) {
          c.write('250-raw.test');
          c.write('250 STARTTLS');
        } else if (/^STARTTLS/i.test(l)) {
          c.write('220 go ahead');
          c.socket.write('\x15\x03\x03\x00\x02\x02\x28'); // a TLS alert instead of a server hello
          return c.close();
        } else if (/^MAIL|^RCPT/i.test(l)) c.write('250 ok');
        else if (/^DATA/i.test(l)) {
          c.write('354 go');
          if ((await c.readData()) === null) return;
          plain++;
          c.write('250 queued');
        } else if (/^QUIT/i.test(l)) return c.close();
      }
    });
    cleanups.push(() => raw.close());
    const { runner } = runnerFor(raw.port);
    await server.deliver('tls@remote.test', msg('tls'), 'alice@example.org');
    await runner.runOnce();
    assert.equal((await onlyEntry()).recipients[0]!.state, 'delivered');
    assert.equal(plain, 1);
  });
});

describe('giving up, warnings, and bounces that must not loop', () => {
  test('an undeliverable message is warned about after warn_after and bounced at max_age, with the last reply', async () => {
    const s = await sink({ rcpt: () => ({ code: 451, message: '4.3.0 Temporary local problem' }) });
    const { runner, clock } = runnerFor(s.port, { retrySchedule: [60, 600], maxAge: 3600, warnAfter: 900 });
    const before = (await inbox(alice)).length;
    await server.deliver('never@remote.test', msg('doomed'), 'alice@example.org');
    const t0 = (await onlyEntry()).createdAt.getTime();
    clock.set(new Date(t0));
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      await runner.runOnce();
      const r = (await onlyEntry()).recipients[0]!;
      times.push((clock.now().getTime() - t0) / 1000);
      if (r.state !== 'deferred') break;
      clock.set(r.nextAttemptAt);
    }
    assert.deepEqual(times, [0, 60, 660, 1260, 1860, 2460, 3060, 3600], 'retries on schedule, the last at the expiry');
    const entry = await onlyEntry();
    assert.equal(entry.recipients[0]!.state, 'bounced');
    assert.match(entry.recipients[0]!.lastReply!, /^451 4\.3\.0 Temporary local problem .*\(gave up after 1h\)/);
    assert.ok(entry.warnedAt, 'the warning was recorded');
    const mails = (await inbox(alice)).slice(before);
    assert.equal(mails.length, 2, 'one warning, one bounce');
    assert.match(mails[0]!, /Subject: Delayed Mail \(still being retried\)/);
    assert.match(mails[0]!, /Action: delayed\r\nStatus: 4\.3\.0/);
    assert.match(mails[0]!, /Will-Retry-Until: /);
    assert.match(mails[1]!, /Subject: Undelivered Mail Returned to Sender/);
    assert.match(mails[1]!, /Action: failed\r\nStatus: 4\.3\.0\r\nRemote-MTA: dns; mx\.remote\.test\r\nDiagnostic-Code: smtp; 451 4\.3\.0 Temporary local problem/);
  });

  test('no bounce to the null sender; a bounce to a remote sender goes out through the queue', async () => {
    const s = await sink({ rcpt: (a) => (a.startsWith('gone') ? { code: 550, message: '5.1.1 unknown' } : null) });
    const { runner } = runnerFor(s.port);
    await server.deliver('gone@remote.test', msg('from nobody'), '');
    await runner.runOnce();
    assert.equal((await server.store.listQueue()).length, 1, 'no bounce queued for the null sender');

    for (const e of await server.store.listQueue()) await server.store.deleteQueueEntry(e.id);
    await server.deliver('gone@remote.test', msg('from afar', 'carol@remote.test'), 'carol@remote.test');
    await runner.runOnce();
    const all = await server.store.listQueue();
    assert.equal(all.length, 2);
    const bounce = all.find((e) => e.source === 'bounce')!;
    assert.equal(bounce.sender, '');
    assert.equal(bounce.recipients[0]!.state, 'delivered');
    const delivered = s.messages.find((m) => m.to.includes('carol@remote.test'))!;
    assert.equal(delivered.from, '');
    assert.match(delivered.raw.toString(), /Diagnostic-Code: smtp; 550 5\.1\.1 unknown/);
  });

  test('NOTIFY=NEVER suppresses the bounce; NOTIFY=SUCCESS goes on to a DSN-capable remote, or we report "relayed"', async () => {
    const { ingest } = await import('../../src/store/ingest.js');
    const enqueue = async (recipients: Array<{ address: string; dsnNotify?: string; dsnOrcpt?: string }>) => {
      const { blob } = await ingest(server.store.blobs, Buffer.from(msg('dsn params')));
      await server.store.enqueue({ sender: 'alice@example.org', blob, source: 'submission', dsnRet: 'HDRS', dsnEnvid: 'ENV-1', recipients });
    };
    const s = await sink({ rcpt: (a) => (a.startsWith('gone') ? { code: 550, message: '5.1.1 unknown' } : null) });
    const { runner } = runnerFor(s.port);
    const before = (await inbox(alice)).length;
    await enqueue([{ address: 'gone@remote.test', dsnNotify: 'NEVER' }]);
    await enqueue([{ address: 'ok@remote.test', dsnNotify: 'SUCCESS', dsnOrcpt: 'rfc822;ok@remote.test' }]);
    await runner.runOnce();
    assert.equal((await inbox(alice)).length, before, 'no report: NEVER, and the remote took NOTIFY=SUCCESS');
    assert.equal(s.messages[0]!.dsn.envid, 'ENV-1');
    assert.equal(s.messages[0]!.dsn.ret, 'HDRS');
    assert.equal(s.messages[0]!.dsn.notify['ok@remote.test'], 'SUCCESS');

    const plain = await sink({ dsn: false });
    const r2 = runnerFor(plain.port).runner;
    for (const e of await server.store.listQueue()) await server.store.deleteQueueEntry(e.id);
    await enqueue([{ address: 'ok@remote.test', dsnNotify: 'SUCCESS,FAILURE' }]);
    await r2.runOnce();
    const mails = (await inbox(alice)).slice(before);
    assert.equal(mails.length, 1);
    assert.match(mails[0]!, /Action: relayed\r\nStatus: 2\.0\.0/);
    assert.match(mails[0]!, /Original-Envelope-Id: ENV-1/);
  });
});

describe('windows, holds and forwarding', () => {
  test('a closed window holds outbound mail (local mail still arrives) until it opens or a flush', async () => {
    const s = await sink();
    // A window that is never open in practice: 29 February at 03:00.
    const { runner, clock } = runnerFor(s.port, { window: '0 3 29 2 *' });
    await server.deliver('held@remote.test', msg('held'), 'alice@example.org');
    const localBefore = (await inbox(alice)).length;
    await server.deliver('alice@example.org', msg('local'), 'bob@remote.test');
    assert.equal((await inbox(alice)).length, localBefore + 1, 'local delivery is never held');
    assert.equal(await runner.runOnce(), 0);
    assert.equal(s.messages.length, 0);

    // The window opens: 2028-02-29 03:00 local time.
    clock.set(new Date(2028, 1, 29, 3, 0, 30));
    assert.equal(await runner.runOnce(), 1);
    assert.equal(s.messages.length, 1);

    // Closed again; `mailroom queue flush` (the setting) opens it once.
    clock.set(new Date(2028, 2, 1, 12, 0));
    await server.deliver('flushed@remote.test', msg('flushed'), 'alice@example.org');
    await runner.start();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(s.deliveredTo('flushed@remote.test'), 0);
    await server.store.setSetting('queue:flush', String(Date.now()));
    for (let i = 0; i < 50 && s.deliveredTo('flushed@remote.test') === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.deliveredTo('flushed@remote.test'), 1);
  });

  test('held entries stay until released', async () => {
    const s = await sink();
    const { runner } = runnerFor(s.port);
    await server.deliver('hold@remote.test', msg('hold'), 'alice@example.org');
    const e = await onlyEntry();
    await server.store.setQueueHeld(e.id, true);
    assert.equal(await runner.runOnce(), 0);
    await server.store.setQueueHeld(e.id, false);
    assert.equal(await runner.runOnce(), 1);
    assert.equal(s.deliveredTo('hold@remote.test'), 1);
  });

  test('a user forwarding to an outside address: the copy goes through the queue, and keep_copy keeps one', async () => {
    const s = await sink();
    const { runner } = runnerFor(s.port);
    const fwd = await server.addUser('fwd@example.org', 'pw');
    await server.store.updateUser(fwd.id, { forwardTo: ['away@remote.test'], keepCopy: true });
    await server.deliver('fwd@example.org', msg('forward me', 'dave@remote.test'), 'dave@remote.test');
    assert.equal((await inbox(fwd)).length, 1, 'the copy kept');
    await runner.runOnce();
    assert.equal(s.deliveredTo('away@remote.test'), 1);
    assert.match(s.messages[0]!.raw.toString(), /Subject: forward me/);
  });

  test('mail submitted over SMTP (STARTTLS + AUTH) leaves through the running queue service promptly', async () => {
    const s = await sink();
    const { runner } = runnerFor(s.port);
    await runner.start();
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: server.port('submission'),
      secure: false,
      requireTLS: true,
      tls: { ca: server.tls.cert, servername: 'mail.test' },
      auth: { user: 'alice@example.org', pass: 'alice-password' },
    });
    const started = Date.now();
    await transport.sendMail({ from: 'alice@example.org', to: 'submitted@remote.test', subject: 'via submission', text: 'hi' });
    transport.close();
    for (let i = 0; i < 100 && s.deliveredTo('submitted@remote.test') === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.deliveredTo('submitted@remote.test'), 1);
    assert.ok(Date.now() - started < 5000, 'delivered within seconds of being queued');
    assert.match(s.messages[0]!.raw.toString(), /Subject: via submission/);
  });
});
