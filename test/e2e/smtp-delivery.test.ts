/**
 * Inbound SMTP (MX listener) end to end: real clients (swaks, python smtplib,
 * nodemailer, a raw socket) against a real mailroom with a real SQLite store.
 * Local delivery, aliases, catch-all, sub-addresses, RCPT-time refusals, and
 * bad input of every kind: each gets its SMTP reply, nothing partial is stored,
 * and the server keeps serving.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { message, python, RawSmtp, skipUnless, swaks } from './smtp-helpers.js';

const MAX_SIZE = 64 * 1024;

async function inbox(t: TestServer, address: string): Promise<string[]> {
  const r = await t.store.resolveAddress(address);
  assert.equal(r.kind, 'user', `${address} is a user`);
  const userId = (r as { user: { id: number } }).user.id;
  const mb = await t.store.getMailbox(userId, 'INBOX');
  const msgs = await t.store.listMessages(mb!.id);
  return Promise.all(msgs.map(async (m) => (await t.store.blobs.read(m.blobId)).toString('utf8')));
}

async function blobCount(t: TestServer): Promise<number> {
  let n = 0;
  for await (const _ of t.store.blobs.list()) n++;
  return n;
}

/** A raw session up to an accepted MAIL FROM. */
async function session(t: TestServer, from = 'sender@remote.test'): Promise<RawSmtp> {
  const c = await RawSmtp.connect(t.port('smtp'));
  assert.equal((await c.read()).code, 220);
  assert.equal((await c.cmd('EHLO client.test')).code, 250);
  assert.equal((await c.cmd(`MAIL FROM:<${from}>`)).code, 250);
  return c;
}

describe('SMTP inbound delivery', () => {
  let t: TestServer;
  let port: number;

  before(async () => {
    t = await startTestServer(
      { smtp: { maxMessageSize: MAX_SIZE, maxRecipients: 5, maxBadCommands: 5, policyCacheSeconds: 0 } },
      { services: ['smtp'] },
    );
    port = t.port('smtp');
    await t.addUser('alice@example.test', 'alice-pw');
    await t.addUser('bob@example.test', 'bob-pw');
    await t.addUser('carol@example.test', 'carol-pw');
    const full = await t.addUser('full@example.test', 'full-pw');
    await t.addUser('catcher@catchall.test', 'catcher-pw');
    await t.store.addAlias('team@example.test', ['alice@example.test', 'bob@example.test']);
    await t.store.addAlias('@catchall.test', ['catcher@catchall.test']);
    // A mailbox over its quota.
    await t.deliver('full@example.test', message({ body: 'x'.repeat(300) }));
    await t.store.updateUser(full.id, { quota: 100 });
  });

  after(async () => {
    await t?.stop();
  });

  test('EHLO advertises the extensions', async () => {
    const c = await RawSmtp.connect(port);
    const greeting = await c.read();
    assert.equal(greeting.code, 220);
    assert.match(greeting.lines[0]!, /^mail\.test ESMTP/);
    const ehlo = await c.cmd('EHLO client.test');
    assert.equal(ehlo.code, 250);
    for (const ext of ['PIPELINING', `SIZE ${MAX_SIZE}`, '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'STARTTLS', 'DSN']) {
      assert.ok(ehlo.lines.includes(ext), `${ext} in ${ehlo.lines.join('|')}`);
    }
    // Loopback, auth.plaintext = loopback: PLAIN and LOGIN may be offered without TLS here.
    assert.ok(ehlo.lines.some((l) => /^AUTH .*PLAIN/.test(l)));
    assert.equal((await c.cmd('QUIT')).code, 221);
    c.end();
  });

  test('swaks: a message to a local user lands in INBOX with a Received line', async (ctx) => {
    const skip = skipUnless('swaks');
    if (skip) return ctx.skip(skip);
    const r = await swaks(port, ['--to', 'alice@example.test', '--from', 'someone@remote.test', '--header', 'Subject: via swaks', '--body', 'Hello Alice']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /<- {2}250 2\.6\.0 OK: queued as \S+/);
    const msgs = await inbox(t, 'alice@example.test');
    const m = msgs.find((x) => x.includes('Subject: via swaks'));
    assert.ok(m, 'delivered');
    assert.match(m, /^Received: from client\.test \(.*\[127\.0\.0\.1\]\)\r\n\tby mail\.test \(mailroom\) with ESMTP id \S+\r\n\tfor <alice@example\.test>; /);
    assert.ok(m.includes('Hello Alice'));
    assert.ok(!/[^\r]\n/.test(m), 'stored with CRLF line ends');
  });

  test('python smtplib: alias to two users, catch-all, and +tag', async (ctx) => {
    const skip = skipUnless('python3');
    if (skip) return ctx.skip(skip);
    const r = await python(
      `
import smtplib
s = smtplib.SMTP('127.0.0.1', port, timeout=15)
s.ehlo('py.test')
refused = s.sendmail('py@remote.test', ['team@example.test', 'anything@catchall.test', 'carol+news@example.test'],
  'From: py@remote.test\\r\\nTo: team@example.test\\r\\nSubject: via python\\r\\n\\r\\nHi all\\r\\n')
print('refused', refused)
s.quit()
`,
      { port },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /refused \{\}/);
    for (const who of ['alice@example.test', 'bob@example.test', 'catcher@catchall.test', 'carol@example.test']) {
      const msgs = await inbox(t, who);
      assert.equal(msgs.filter((m) => m.includes('Subject: via python')).length, 1, who);
    }
  });

  test('nodemailer: unknown local recipients are refused at RCPT with 550 5.1.1, the others get the message', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, tls: { rejectUnauthorized: false } });
    const info = await transport.sendMail({
      from: 'nm@remote.test',
      to: ['bob@example.test', 'nobody@example.test'],
      subject: 'via nodemailer',
      text: 'hi',
    });
    transport.close();
    assert.deepEqual(info.accepted, ['bob@example.test']);
    assert.deepEqual(info.rejected, ['nobody@example.test']);
    assert.match(String((info as { rejectedErrors?: Array<{ response?: string }> }).rejectedErrors?.[0]?.response), /^550 5\.1\.1 /);
    assert.equal((await inbox(t, 'bob@example.test')).filter((m) => m.includes('Subject: via nodemailer')).length, 1);
  });

  test('RCPT-time answers: unknown 550 5.1.1, full mailbox 452 4.2.2, bad syntax 501, too many recipients 452 4.5.3', async () => {
    const c = await session(t);
    let r = await c.cmd('RCPT TO:<ghost@example.test>');
    assert.equal(r.code, 550);
    assert.match(r.lines[0]!, /^5\.1\.1 /);
    r = await c.cmd('RCPT TO:<full@example.test>');
    assert.equal(r.code, 452);
    assert.match(r.lines[0]!, /^4\.2\.2 /);
    r = await c.cmd('RCPT TO:<not an address>');
    assert.equal(r.code, 501);
    await c.cmd('RSET');
    await c.cmd('MAIL FROM:<sender@remote.test>');
    for (let i = 0; i < 5; i++) assert.equal((await c.cmd(`RCPT TO:<alice+${i}@example.test>`)).code, 250);
    r = await c.cmd('RCPT TO:<alice+6@example.test>');
    assert.equal(r.code, 452);
    assert.match(r.lines[0]!, /^4\.5\.3 /);
    c.end();
  });

  test('SIZE: a declared size over the limit is refused at MAIL, an oversized message at DATA, nothing stored', async () => {
    const blobsBefore = await blobCount(t);
    const c = await RawSmtp.connect(port);
    await c.read();
    await c.cmd('EHLO client.test');
    let r = await c.cmd(`MAIL FROM:<sender@remote.test> SIZE=${MAX_SIZE + 1}`);
    assert.equal(r.code, 552);
    assert.match(r.lines[0]!, /^5\.3\.4 /);
    assert.equal((await c.cmd('MAIL FROM:<sender@remote.test>')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<carol@example.test>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    const line = `${'y'.repeat(998)}\r\n`;
    c.write(`Subject: big\r\n\r\n${line.repeat(Math.ceil((MAX_SIZE * 2) / line.length))}.\r\n`);
    r = await c.read();
    assert.equal(r.code, 552);
    assert.match(r.lines[0]!, /^5\.3\.4 /);
    // The session goes on.
    assert.equal((await c.cmd('NOOP')).code, 250);
    c.end();
    assert.equal(await blobCount(t), blobsBefore);
    assert.equal((await inbox(t, 'carol@example.test')).filter((m) => m.includes('Subject: big')).length, 0);
  });

  test('bare LF and bare CR in DATA are normalised to CRLF; "<LF>.<LF>" does not end the message', async () => {
    const c = await session(t);
    assert.equal((await c.cmd('RCPT TO:<carol@example.test>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    c.write('Subject: bare\nX-Test: 1\n\nline one\nline\rtwo\n.\nnot the end\r\n.\r\n');
    const r = await c.read();
    assert.equal(r.code, 250, r.raw);
    c.end();
    const m = (await inbox(t, 'carol@example.test')).find((x) => x.includes('Subject: bare'));
    assert.ok(m);
    assert.ok(m.endsWith('Subject: bare\r\nX-Test: 1\r\n\r\nline one\r\nline\r\ntwo\r\n.\r\nnot the end\r\n'), JSON.stringify(m.slice(-80)));
  });

  test('NUL bytes in DATA: 550 5.6.0 and nothing stored', async () => {
    const blobsBefore = await blobCount(t);
    const c = await session(t);
    await c.cmd('RCPT TO:<carol@example.test>');
    await c.cmd('DATA');
    c.write('Subject: nul\r\n\r\nbefore\0after\r\n.\r\n');
    const r = await c.read();
    assert.equal(r.code, 550);
    assert.match(r.lines[0]!, /^5\.6\.0 /);
    c.end();
    assert.equal(await blobCount(t), blobsBefore);
  });

  test('a client that disconnects mid-DATA leaves nothing behind, and the server carries on', async () => {
    const blobsBefore = await blobCount(t);
    const before = (await inbox(t, 'carol@example.test')).length;
    const c = await session(t);
    await c.cmd('RCPT TO:<carol@example.test>');
    await c.cmd('DATA');
    c.write(`Subject: cut\r\n\r\n${'z'.repeat(5000)}\r\n`);
    await new Promise((r) => setTimeout(r, 100));
    c.end();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await blobCount(t), blobsBefore);
    assert.equal((await inbox(t, 'carol@example.test')).length, before);
    const again = await session(t);
    await again.cmd('RCPT TO:<carol@example.test>');
    await again.cmd('DATA');
    again.write('Subject: after the cut\r\n\r\nok\r\n.\r\n');
    assert.equal((await again.read()).code, 250);
    again.end();
  });

  test('out-of-order and malformed commands get 5xx and the session survives', async () => {
    const c = await RawSmtp.connect(port);
    await c.read();
    assert.equal((await c.cmd('MAIL FROM:<a@remote.test>')).code, 503, 'MAIL before EHLO');
    assert.equal((await c.cmd('EHLO client.test')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<alice@example.test>')).code, 503, 'RCPT before MAIL');
    assert.equal((await c.cmd('DATA')).code, 503, 'DATA before RCPT');
    assert.equal((await c.cmd('FROBNICATE')).code, 500);
    assert.equal((await c.cmd('MAIL FROM:<a@@remote.test>')).code, 501);
    assert.equal((await c.cmd('MAIL FROM:<a@remote.test>')).code, 250);
    assert.equal((await c.cmd('MAIL FROM:<a@remote.test>')).code, 503, 'nested MAIL');
    assert.equal((await c.cmd('NOOP')).code, 250);
    c.end();
  });

  test('an overlong command line closes the connection with 421; the server keeps serving', async () => {
    const c = await RawSmtp.connect(port);
    await c.read();
    await c.cmd('EHLO client.test');
    c.write(`NOOP ${'x'.repeat(5000)}\r\n`);
    const r = await c.read();
    assert.equal(r.code, 421);
    assert.ok(await c.closedByServer());
    const d = await RawSmtp.connect(port);
    assert.equal((await d.read()).code, 220);
    d.end();
  });

  test('too many refused commands close the connection with 421 4.7.0', async () => {
    const c = await session(t);
    let last = await c.cmd('RCPT TO:<ghost0@example.test>');
    for (let i = 1; i < 10 && last.code !== 421; i++) last = await c.cmd(`RCPT TO:<ghost${i}@example.test>`);
    assert.equal(last.code, 421);
    assert.match(last.lines[0]!, /^4\.7\.0 /);
    assert.ok(await c.closedByServer());
  });

  test('PIPELINING: a whole transaction in one write gets its replies in order', async () => {
    const c = await RawSmtp.connect(port);
    await c.read();
    await c.cmd('EHLO client.test');
    c.write('MAIL FROM:<p@remote.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<ghost@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n');
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await c.read()).code);
    assert.deepEqual(codes, [250, 250, 550, 250, 354]);
    c.write('Subject: pipelined\r\n\r\nhi\r\n.\r\nQUIT\r\n');
    assert.equal((await c.read()).code, 250);
    assert.equal((await c.read()).code, 221);
    c.end();
    assert.equal((await inbox(t, 'bob@example.test')).filter((m) => m.includes('Subject: pipelined')).length, 1);
  });

  test('a mail loop (100 Received fields) is refused with 554 5.4.6', async () => {
    const c = await session(t);
    await c.cmd('RCPT TO:<alice@example.test>');
    await c.cmd('DATA');
    c.write(`${'Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n'.repeat(100)}Subject: loop\r\n\r\nx\r\n.\r\n`);
    const r = await c.read();
    assert.equal(r.code, 554);
    assert.match(r.lines[0]!, /^5\.4\.6 /);
    c.end();
  });

  test('the domainless postmaster is accepted (RFC 5321 4.1.1.3)', async () => {
    await t.addUser('admin@example.test', 'admin-pw');
    const admin = (await t.store.getUserByLogin('admin@example.test'))!;
    await t.store.updateUser(admin.id, { isAdmin: true });
    const c = await session(t, '');
    assert.equal((await c.cmd('RCPT TO:<postmaster>')).code, 250);
    await c.cmd('DATA');
    c.write('Subject: to postmaster\r\n\r\nhello\r\n.\r\n');
    assert.equal((await c.read()).code, 250);
    c.end();
    assert.equal((await inbox(t, 'admin@example.test')).filter((m) => m.includes('Subject: to postmaster')).length, 1);
  });

  test('8BITMIME and SMTPUTF8: UTF-8 headers, body and addresses arrive intact', async () => {
    await t.store.addAlias('josé@example.test', ['alice@example.test']);
    const c = await RawSmtp.connect(port);
    await c.read();
    await c.cmd('EHLO client.test');
    assert.equal((await c.cmd('MAIL FROM:<müller@remote.test> BODY=8BITMIME SMTPUTF8')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<josé@example.test>')).code, 250);
    await c.cmd('DATA');
    c.write(Buffer.from('From: Müller <müller@remote.test>\r\nTo: josé@example.test\r\nSubject: Grüße aus Köln\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nÄpfel, Öl und Übermut — 日本語\r\n.\r\n', 'utf8'));
    assert.equal((await c.read()).code, 250);
    c.end();
    const m = (await inbox(t, 'alice@example.test')).find((x) => x.includes('Subject: Grüße aus Köln'));
    assert.ok(m);
    assert.ok(m.includes('Äpfel, Öl und Übermut — 日本語'));
  });

  test('a recipient that fails after DATA while another succeeds: 250, and the sender gets a bounce', async () => {
    const small = await t.addUser('small@example.test', 'small-pw', { quota: 2000 });
    const c = await RawSmtp.connect(port);
    await c.read();
    await c.cmd('EHLO client.test');
    assert.equal((await c.cmd('MAIL FROM:<carol@example.test>')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<bob@example.test>')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<small@example.test>')).code, 250, 'empty mailbox: accepted at RCPT');
    await c.cmd('DATA');
    c.write(`Subject: too big for small\r\n\r\n${'b'.repeat(5000)}\r\n.\r\n`);
    assert.equal((await c.read()).code, 250);
    // Only "small" as recipient: every recipient fails, so DATA itself gets the temporary error.
    await c.cmd('MAIL FROM:<carol@example.test>');
    await c.cmd('RCPT TO:<small@example.test>');
    await c.cmd('DATA');
    c.write(`Subject: too big again\r\n\r\n${'b'.repeat(5000)}\r\n.\r\n`);
    const r = await c.read();
    assert.equal(r.code, 452);
    assert.match(r.lines[0]!, /^4\.2\.2 /);
    c.end();
    assert.ok((await inbox(t, 'bob@example.test')).some((m) => m.includes('Subject: too big for small')));
    const mb = await t.store.getMailbox(small.id, 'INBOX');
    assert.equal((await t.store.listMessages(mb!.id)).length, 0);
    const bounce = (await inbox(t, 'carol@example.test')).find((m) => m.includes('multipart/report'));
    assert.ok(bounce, 'carol got a delivery status notification');
    assert.match(bounce, /Final-Recipient: rfc822; small@example\.test/);
    assert.match(bounce, /Status: 4\.2\.2/);
    assert.match(bounce, /Subject: too big for small/);
  });

  test('forged Authentication-Results carrying our host name are removed', async () => {
    const c = await session(t);
    await c.cmd('RCPT TO:<alice@example.test>');
    await c.cmd('DATA');
    c.write('Authentication-Results: mail.test; dkim=pass header.d=bank.example\r\nAuthentication-Results: elsewhere.example; spf=none\r\nSubject: forged\r\n\r\nx\r\n.\r\n');
    assert.equal((await c.read()).code, 250);
    c.end();
    const m = (await inbox(t, 'alice@example.test')).find((x) => x.includes('Subject: forged'))!;
    assert.ok(!m.includes('header.d=bank.example'));
    assert.ok(m.includes('Authentication-Results: elsewhere.example; spf=none'));
  });
});

describe('SMTP connection limits', () => {
  let t: TestServer;

  before(async () => {
    t = await startTestServer({ smtp: { maxConnectionsPerIp: 2, maxMessagesPerMinutePerIp: 2, policyCacheSeconds: 0 } }, { services: ['smtp'] });
    await t.addUser('dave@example.test', 'dave-pw');
  });

  after(async () => {
    await t?.stop();
  });

  test('per-IP concurrent connections: the one over the limit gets 421 4.7.0', async () => {
    const a = await RawSmtp.connect(t.port('smtp'));
    const b = await RawSmtp.connect(t.port('smtp'));
    assert.equal((await a.read()).code, 220);
    assert.equal((await b.read()).code, 220);
    const c = await RawSmtp.connect(t.port('smtp'));
    const r = await c.read();
    assert.equal(r.code, 421);
    assert.match(r.lines[0]!, /^4\.7\.0 /);
    a.end();
    // The server notices the close asynchronously: a slot frees up shortly after.
    let d = await RawSmtp.connect(t.port('smtp'));
    for (let i = 0; i < 50 && (await d.read()).code !== 220; i++) {
      d.end();
      await new Promise((res) => setTimeout(res, 100));
      d = await RawSmtp.connect(t.port('smtp'));
      if (i === 49) assert.fail('no slot was freed');
    }
    b.end();
    c.end();
    d.end();
    await new Promise((res) => setTimeout(res, 200));
  });

  test('per-IP message rate: past the limit MAIL gets 450 4.7.1', async () => {
    const c = await RawSmtp.connect(t.port('smtp'));
    await c.read();
    await c.cmd('EHLO client.test');
    for (let i = 0; i < 2; i++) {
      assert.equal((await c.cmd('MAIL FROM:<r@remote.test>')).code, 250);
      assert.equal((await c.cmd('RCPT TO:<dave@example.test>')).code, 250);
      assert.equal((await c.cmd('DATA')).code, 354);
      c.write(`Subject: rate ${i}\r\n\r\nx\r\n.\r\n`);
      assert.equal((await c.read()).code, 250);
    }
    const r = await c.cmd('MAIL FROM:<r@remote.test>');
    assert.equal(r.code, 450);
    assert.match(r.lines[0]!, /^4\.7\.1 /);
    c.end();
  });
});
