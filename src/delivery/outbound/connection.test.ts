import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { OutboundConnection, type ConnectOptions, type Failure } from './connection.js';
import { rawGreet, startRawSmtp, startSmtpSink, type RawServer, type SmtpSink } from './testing.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});
async function sink(opts: Parameters<typeof startSmtpSink>[0] = {}): Promise<SmtpSink> {
  const s = await startSmtpSink(opts);
  cleanups.push(() => s.close());
  return s;
}
async function raw(script: Parameters<typeof startRawSmtp>[0]): Promise<RawServer> {
  const s = await startRawSmtp(script);
  cleanups.push(() => s.close());
  return s;
}

const message = () => Readable.from([Buffer.from('From: a@example.org\r\nTo: b@remote.test\r\nSubject: hi\r\n\r\nbody\r\n.leading dot\r\n')]);
const opts = (port: number, over: Partial<ConnectOptions> = {}): ConnectOptions => ({
  address: '127.0.0.1',
  port,
  hostname: 'mx.remote.test',
  tls: 'opportunistic',
  verifyCertificate: false,
  heloName: 'mail.example.org',
  timeoutMs: 3000,
  ...over,
});
async function openFails(o: ConnectOptions): Promise<Failure> {
  try {
    const c = await OutboundConnection.open(o);
    c.destroy();
  } catch (f) {
    return f as Failure;
  }
  throw new Error('expected the connection to fail');
}

test('a plain delivery over opportunistic STARTTLS; the connection is reused for a second transaction', async () => {
  const s = await sink();
  const c = await OutboundConnection.open(opts(s.port));
  assert.equal(c.secure, true);
  assert.equal(c.supportsDsn, true);
  const r1 = await c.send({ from: 'a@example.org', to: ['b@remote.test', 'c@remote.test'] }, message());
  assert.equal(r1.bodySent, true);
  assert.equal(r1.reusable, true);
  assert.deepEqual([...r1.recipients.values()].map((o) => o.ok), [true, true]);
  assert.match(r1.recipients.get('b@remote.test')!.reply, /^250 /);
  const r2 = await c.send({ from: '', to: ['d@remote.test'], dsn: { ret: 'HDRS', envid: 'E1', notify: 'SUCCESS,FAILURE', orcpt: 'rfc822;d@remote.test' } }, message());
  assert.equal(r2.recipients.get('d@remote.test')!.ok, true);
  c.quit();
  assert.equal(s.messages.length, 2);
  assert.deepEqual(s.messages[0]!.to, ['b@remote.test', 'c@remote.test']);
  assert.equal(s.messages[0]!.secure, true);
  assert.match(s.messages[0]!.raw.toString(), /\r\n\.leading dot\r\n/, 'dot-stuffing undone by the server: the body arrives intact');
  assert.equal(s.messages[1]!.from, '');
  assert.equal(s.messages[1]!.dsn.ret, 'HDRS');
  assert.equal(s.messages[1]!.dsn.envid, 'E1');
  assert.equal(s.connections.total, 1);
});

test('partial acceptance: each recipient gets its own outcome', async () => {
  const s = await sink({
    rcpt: (a) => (a.startsWith('gone') ? { code: 550, message: '5.1.1 No such user' } : a.startsWith('full') ? { code: 452, message: '4.2.2 Mailbox full' } : null),
  });
  const c = await OutboundConnection.open(opts(s.port));
  const r = await c.send({ from: 'a@example.org', to: ['ok@remote.test', 'gone@remote.test', 'full@remote.test'] }, message());
  c.quit();
  const ok = r.recipients.get('ok@remote.test')!;
  const gone = r.recipients.get('gone@remote.test')!;
  const full = r.recipients.get('full@remote.test')!;
  assert.equal(ok.ok, true);
  assert.deepEqual([gone.ok, gone.temporary], [false, false]);
  assert.match(gone.reply, /^550 5\.1\.1 No such user \(in reply to RCPT TO\)$/);
  assert.deepEqual([full.ok, full.temporary], [false, true]);
  assert.match(full.reply, /^452 4\.2\.2 Mailbox full/);
  assert.deepEqual(s.messages.map((m) => m.to), [['ok@remote.test']]);
});

test('all recipients refused, MAIL FROM refused, end-of-data refused', async () => {
  const s = await sink({
    mailFrom: (a) => (a === 'blocked@example.org' ? { code: 553, message: '5.7.1 Sender rejected' } : a === 'later@example.org' ? { code: 451, message: '4.3.0 Try later' } : null),
    rcpt: (a) => (a.startsWith('gone') ? { code: 550, message: '5.1.1 No such user' } : null),
    data: (m) => (m.raw.includes('SPAM') ? { code: 554, message: '5.7.1 Looks like spam' } : m.raw.includes('SLOW') ? { code: 451, message: '4.7.1 Later' } : null),
  });
  const c = await OutboundConnection.open(opts(s.port));
  const allGone = await c.send({ from: 'a@example.org', to: ['gone1@remote.test', 'gone2@remote.test'] }, message());
  assert.deepEqual([...allGone.recipients.values()].map((o) => [o.ok, o.temporary]), [[false, false], [false, false]]);
  assert.equal(allGone.reusable, true, 'a refused envelope does not end the connection');
  assert.equal(allGone.tryNextHost, false);

  const blocked = await c.send({ from: 'blocked@example.org', to: ['x@remote.test'] }, message());
  assert.match(blocked.recipients.get('x@remote.test')!.reply, /^553 5\.7\.1 Sender rejected \(in reply to MAIL FROM\)/);
  assert.equal(blocked.recipients.get('x@remote.test')!.temporary, false);

  const later = await c.send({ from: 'later@example.org', to: ['x@remote.test'] }, message());
  assert.equal(later.recipients.get('x@remote.test')!.temporary, true);
  assert.equal(later.tryNextHost, true, 'a temporary MAIL FROM refusal lets another MX try');

  const spam = await c.send({ from: 'a@example.org', to: ['x@remote.test', 'gone@remote.test'] }, Readable.from([Buffer.from('Subject: SPAM\r\n\r\nx\r\n')]));
  assert.match(spam.recipients.get('x@remote.test')!.reply, /^554 5\.7\.1 Looks like spam \(in reply to end of DATA\)/);
  assert.equal(spam.recipients.get('x@remote.test')!.temporary, false);
  assert.match(spam.recipients.get('gone@remote.test')!.reply, /^550 5\.1\.1/, 'a recipient refused at RCPT keeps its own reply');
  assert.equal(spam.bodySent, true);

  const slow = await c.send({ from: 'a@example.org', to: ['x@remote.test'] }, Readable.from([Buffer.from('Subject: SLOW\r\n\r\nx\r\n')]));
  assert.equal(slow.recipients.get('x@remote.test')!.temporary, true);
  assert.equal(slow.tryNextHost, false, 'never another host once the body went out');

  const fine = await c.send({ from: 'a@example.org', to: ['x@remote.test'] }, message());
  assert.equal(fine.recipients.get('x@remote.test')!.ok, true, 'the connection is still good after refusals (RSET)');
  c.quit();
  assert.equal(s.messages.length, 1);
});

test('connection refused, too many connections (421), and a 554 greeting', async () => {
  const closed = await raw(async (c) => c.close());
  const port = closed.port;
  await closed.close();
  const refused = await openFails(opts(port));
  assert.equal(refused.temporary, true);
  assert.match(refused.reply, /^451 4\.4\.1 connect to mx\.remote\.test\[127\.0\.0\.1\]:\d+: .*ECONNREFUSED/);

  const s = await sink({ maxClients: 1 });
  const first = await OutboundConnection.open(opts(s.port));
  const busy = await openFails(opts(s.port));
  first.quit();
  assert.equal(busy.temporary, true);
  assert.match(busy.reply, /^421 /);

  const noService = await raw(async (c) => {
    c.write('554 5.7.1 No SMTP service here');
    await c.readLine();
    c.close();
  });
  const f = await openFails(opts(noService.port));
  assert.equal(f.temporary, false);
  assert.match(f.reply, /^554 5\.7\.1 No SMTP service here/);
});

test('garbage, silence and a dropped connection are temporary', async () => {
  const garbage = await raw(async (c) => {
    c.write('hello, I am not an SMTP server');
    await c.readLine();
  });
  const g = await openFails(opts(garbage.port));
  assert.equal(g.temporary, true);
  assert.match(g.reply, /^451 /);

  const silent = await raw(async () => {
    /* never greet */
  });
  const started = Date.now();
  const t = await openFails(opts(silent.port, { timeoutMs: 400 }));
  assert.equal(t.temporary, true);
  assert.match(t.reply, /^451 4\.4\.2 Timed out/);
  assert.ok(Date.now() - started < 3000);

  const garbageRcpt = await raw(async (c) => {
    if (!(await rawGreet(c))) return;
    await c.readLine(); // MAIL
    c.write('250 ok');
    await c.readLine(); // RCPT
    c.write('what?');
    await c.readLine();
    c.close();
  });
  const conn = await OutboundConnection.open(opts(garbageRcpt.port));
  const r = await conn.send({ from: 'a@example.org', to: ['x@remote.test'] }, message());
  assert.equal(r.recipients.get('x@remote.test')!.temporary, true);
  assert.match(r.recipients.get('x@remote.test')!.reply, /^451 4\.5\.0 Protocol error: .* said: what\?/);

  const drops = await raw(async (c) => {
    if (!(await rawGreet(c))) return;
    await c.readLine();
    c.write('250 ok');
    await c.readLine();
    c.write('250 ok');
    await c.readLine(); // DATA
    c.write('354 go ahead');
    await c.readData();
    c.close(); // gone before the final reply
  });
  const d = await OutboundConnection.open(opts(drops.port));
  const dr = await d.send({ from: 'a@example.org', to: ['x@remote.test'] }, message());
  assert.equal(dr.recipients.get('x@remote.test')!.temporary, true);
  assert.match(dr.recipients.get('x@remote.test')!.reply, /^451 4\.4\.2 Lost connection/);
  assert.equal(dr.bodySent, true);
  assert.equal(dr.tryNextHost, false);
  assert.equal(dr.reusable, false);

  const hangs = await raw(async (c) => {
    if (!(await rawGreet(c))) return;
    await c.readLine();
    c.write('250 ok');
    await c.readLine(); // RCPT: no answer, ever
  });
  const h = await OutboundConnection.open(opts(hangs.port, { timeoutMs: 400 }));
  const hr = await h.send({ from: 'a@example.org', to: ['x@remote.test'] }, message());
  assert.match(hr.recipients.get('x@remote.test')!.reply, /^451 4\.4\.2 Timed out .* \(in reply to RCPT TO\)/);
  assert.equal(hr.reusable, false);
});

test('a STARTTLS handshake that fails is reported as a TLS failure; a refused STARTTLS continues in plaintext', async () => {
  const broken = await raw(async (c) => {
    if (!(await rawGreet(c, ['STARTTLS', 'PIPELINING']))) return;
    if ((await c.readLine()) !== 'STARTTLS') return;
    c.write('220 go ahead');
    c.socket.write('this is not a TLS server hello\r\n');
    await c.readLine();
    c.close();
  });
  const f = await openFails(opts(broken.port));
  assert.equal(f.tlsFailed, true);
  assert.equal(f.temporary, true);
  assert.match(f.reply, /^451 4\.7\.5 TLS handshake/);

  const plain = await openFails(opts(broken.port, { tls: 'none' })).catch(() => null);
  assert.equal(plain, null, 'the same host without STARTTLS works');

  const refusing = await raw(async (c) => {
    if (!(await rawGreet(c, ['STARTTLS']))) return;
    await c.readLine();
    c.write('454 4.7.0 TLS not available');
    for (;;) {
      const l = await c.readLine();
      if (l === null) return;
      if (/^MAIL|^RCPT/i.test(l)) c.write('250 ok');
      else if (/^DATA/i.test(l)) {
        c.write('354 go');
        await c.readData();
        c.write('250 queued');
      } else if (/^QUIT/i.test(l)) {
        c.write('221 bye');
        c.close();
      }
    }
  });
  const conn = await OutboundConnection.open(opts(refusing.port));
  assert.equal(conn.secure, false);
  const r = await conn.send({ from: 'a@example.org', to: ['x@remote.test'] }, message());
  conn.quit();
  assert.equal(r.recipients.get('x@remote.test')!.ok, true);

  const required = await openFails(opts(refusing.port, { tls: 'required' }));
  assert.equal(required.temporary, true);
});

test('smarthost login: right credentials deliver, wrong ones keep the mail (temporary)', async () => {
  const s = await sink({ auth: { user: 'office', pass: 'secret' } });
  const good = await OutboundConnection.open(opts(s.port, { tls: 'required', auth: { user: 'office', pass: 'secret' } }));
  const r = await good.send({ from: 'a@example.org', to: ['x@remote.test'] }, message());
  good.quit();
  assert.equal(r.recipients.get('x@remote.test')!.ok, true);
  assert.equal(s.messages[0]!.user, 'office');

  const bad = await openFails(opts(s.port, { tls: 'required', auth: { user: 'office', pass: 'wrong' } }));
  assert.equal(bad.stage, 'auth');
  assert.equal(bad.temporary, true);
  assert.match(bad.reply, /^535 /);
});

test('a message over the remote SIZE limit is a permanent failure without sending it', async () => {
  const s = await sink({ size: 100 });
  const c = await OutboundConnection.open(opts(s.port));
  const r = await c.send({ from: 'a@example.org', to: ['x@remote.test'], size: 5000 }, message());
  c.quit();
  assert.equal(r.recipients.get('x@remote.test')!.temporary, false);
  assert.match(r.recipients.get('x@remote.test')!.reply, /^552 5\.3\.4/);
  assert.equal(s.messages.length, 0);
});
