/**
 * Submission end to end: STARTTLS (587-style) and implicit TLS (465-style)
 * listeners, AUTH PLAIN/LOGIN/CRAM-MD5/SCRAM-SHA-256 with real clients
 * (nodemailer, python smtplib, swaks, and a hand-written SCRAM client), the
 * rule that plaintext passwords need TLS, sender enforcement, message
 * completion (Message-ID, Date, Received, Authentication-Results), and
 * throttling of wrong passwords.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { python, RawSmtp, skipUnless, swaks } from './smtp-helpers.js';

/** swaks needs Net::SSLeay (Debian: libnet-ssleay-perl) for --tls. */
function perlHasSsl(): boolean {
  return spawnSync('perl', ['-MNet::SSLeay', '-e', '1']).status === 0;
}

function skipUnlessTls(): string {
  if (process.env.CI === 'true') throw new Error('swaks --tls needs Net::SSLeay (libnet-ssleay-perl) under CI');
  return 'swaks has no TLS support here (install libnet-ssleay-perl); CI=true would fail instead of skipping';
}

async function inbox(t: TestServer, address: string): Promise<string[]> {
  const r = await t.store.resolveAddress(address);
  const userId = (r as { user: { id: number } }).user.id;
  const mb = await t.store.getMailbox(userId, 'INBOX');
  const msgs = await t.store.listMessages(mb!.id);
  return Promise.all(msgs.map(async (m) => (await t.store.blobs.read(m.blobId)).toString('utf8')));
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

/** AUTH SCRAM-SHA-256 (RFC 5802, RFC 7677) over a RawSmtp session; returns the final reply. */
async function scramAuth(c: RawSmtp, user: string, password: string): Promise<{ code: number; serverSignatureOk: boolean }> {
  const cnonce = randomBytes(18).toString('base64');
  const bare = `n=${user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${cnonce}`;
  let r = await c.cmd(`AUTH SCRAM-SHA-256 ${b64(`n,,${bare}`)}`);
  if (r.code !== 334) return { code: r.code, serverSignatureOk: false };
  const serverFirst = Buffer.from(r.lines[0]!, 'base64').toString();
  const attrs = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
  const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const withoutProof = `c=biws,r=${attrs.r}`;
  const authMessage = `${bare},${serverFirst},${withoutProof}`;
  const signature = createHmac('sha256', storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
  r = await c.cmd(b64(`${withoutProof},p=${proof.toString('base64')}`));
  if (r.code !== 334) return { code: r.code, serverSignatureOk: false };
  const serverFinal = Buffer.from(r.lines[0]!, 'base64').toString();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const expected = createHmac('sha256', serverKey).update(authMessage).digest('base64');
  r = await c.cmd('');
  return { code: r.code, serverSignatureOk: serverFinal === `v=${expected}` };
}

describe('SMTP submission', () => {
  let t: TestServer;
  let ca: string;

  before(async () => {
    t = await startTestServer(
      {
        auth: { mechanisms: ['PLAIN', 'LOGIN', 'CRAM-MD5', 'SCRAM-SHA-256'], plaintext: 'never' },
        smtp: { policyCacheSeconds: 0 },
      },
      { services: ['smtp'] },
    );
    ca = t.tls.cert;
    await t.addUser('alice@example.test', 'alice-secret');
    await t.addUser('bob@example.test', 'bob-secret');
    await t.store.addAlias('sales@example.test', ['alice@example.test']);
  });

  after(async () => {
    await t?.stop();
  });

  test('without TLS: no plaintext mechanism is offered or accepted, and mail needs AUTH', async () => {
    const c = await RawSmtp.connect(t.port('submission', 'starttls'));
    assert.equal((await c.read()).code, 220);
    const ehlo = await c.cmd('EHLO client.test');
    assert.ok(ehlo.lines.includes('STARTTLS'));
    const authLine = ehlo.lines.find((l) => l.startsWith('AUTH '));
    assert.ok(authLine && !/\b(PLAIN|LOGIN)\b/.test(authLine), `offered: ${authLine}`);
    const r = await c.cmd(`AUTH PLAIN ${b64('\0alice@example.test\0alice-secret')}`);
    assert.equal(r.code, 538);
    assert.match(r.lines[0]!, /^5\.7\.11 /);
    const m = await c.cmd('MAIL FROM:<alice@example.test>');
    assert.equal(m.code, 530);
    assert.match(m.lines[0]!, /^5\.7\.0 /);
    c.end();
  });

  test('after STARTTLS: PLAIN and LOGIN are offered; nodemailer sends, Message-ID and Date are added', async () => {
    const c = await RawSmtp.connect(t.port('submission', 'starttls'));
    await c.read();
    await c.cmd('EHLO client.test');
    await c.starttls(ca);
    const ehlo = await c.cmd('EHLO client.test');
    assert.ok(ehlo.lines.some((l) => /^AUTH .*PLAIN.*LOGIN|^AUTH .*LOGIN.*PLAIN/.test(l)), ehlo.lines.join('|'));
    assert.ok(!ehlo.lines.includes('STARTTLS'));
    c.end();

    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: t.port('submission', 'starttls'),
      secure: false,
      requireTLS: true,
      tls: { ca, servername: 'localhost' },
      auth: { user: 'alice@example.test', pass: 'alice-secret' },
    });
    const info = await transport.sendMail({
      envelope: { from: 'alice@example.test', to: ['bob@example.test'] },
      raw: 'From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: via starttls\r\n\r\nHi Bob\r\n',
    });
    transport.close();
    assert.match(info.response, /^250 2\.6\.0 /);
    const m = (await inbox(t, 'bob@example.test')).find((x) => x.includes('Subject: via starttls'));
    assert.ok(m);
    assert.match(m, /^Received: from client\.test|^Received: from \S+/);
    assert.match(m, /with ESMTPSA \(TLSv1\.[23] /);
    assert.match(m, /\r\nAuthentication-Results: mail\.test; auth=pass smtp\.auth=alice@example\.test\r\n/);
    assert.match(m, /\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} /);
    assert.match(m, /\r\nMessage-ID: <[^>]+@mail\.test>\r\n/);
  });

  test('a message that has its own Message-ID and Date keeps them', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: t.port('submission', 'starttls'),
      requireTLS: true,
      tls: { ca, servername: 'localhost' },
      auth: { user: 'alice@example.test', pass: 'alice-secret' },
    });
    await transport.sendMail({ from: 'alice@example.test', to: 'bob@example.test', subject: 'own ids', text: 'x', messageId: '<own-id@example.test>' });
    transport.close();
    const m = (await inbox(t, 'bob@example.test')).find((x) => x.includes('Subject: own ids'))!;
    assert.equal(m.match(/^Message-ID:/gim)?.length, 1);
    assert.ok(m.includes('<own-id@example.test>'));
    assert.equal(m.match(/^Date:/gim)?.length, 1);
  });

  test('implicit TLS: python smtplib SMTP_SSL logs in and sends, to a local and a remote recipient', async (ctx) => {
    const skip = skipUnless('python3');
    if (skip) return ctx.skip(skip);
    const r = await python(
      `
import smtplib, ssl, tempfile
f = tempfile.NamedTemporaryFile('w', suffix='.pem', delete=False); f.write(ca); f.close()
context = ssl.create_default_context(cafile=f.name)
context.check_hostname = False
s = smtplib.SMTP_SSL('127.0.0.1', port, context=context, timeout=15)
s.login('alice@example.test', 'alice-secret')
print('refused', s.sendmail('alice@example.test', ['bob@example.test', 'friend@remote.test'], 'From: alice@example.test\\r\\nTo: bob@example.test\\r\\nSubject: via smtps\\r\\n\\r\\nhello\\r\\n'))
s.quit()
`,
      { port: t.port('submission', 'implicit'), ca },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /refused \{\}/);
    assert.ok((await inbox(t, 'bob@example.test')).some((m) => m.includes('Subject: via smtps')));
    const queued = await t.store.listQueue();
    const entry = queued.find((q) => q.recipients.some((x) => x.address === 'friend@remote.test'));
    assert.ok(entry, 'the remote recipient is in the outbound queue');
    assert.equal(entry.sender, 'alice@example.test');
    assert.equal(entry.source, 'submission');
  });

  test('swaks: AUTH LOGIN over STARTTLS; CRAM-MD5 without TLS (no plaintext password); LOGIN without TLS refused', async (ctx) => {
    const skip = skipUnless('swaks');
    if (skip) return ctx.skip(skip);
    const port = t.port('submission', 'starttls');
    const cram = await swaks(port, ['--auth', 'CRAM-MD5', '--auth-user', 'bob@example.test', '--auth-password', 'bob-secret', '--from', 'bob@example.test', '--to', 'alice@example.test', '--header', 'Subject: swaks cram']);
    assert.equal(cram.code, 0, cram.stdout + cram.stderr);
    assert.match(cram.stdout, /235 2\.7\.0 Authentication successful/);
    const plain = await swaks(port, ['--auth', 'LOGIN', '--auth-user', 'bob@example.test', '--auth-password', 'bob-secret', '--from', 'bob@example.test', '--to', 'alice@example.test']);
    assert.notEqual(plain.code, 0);
    assert.doesNotMatch(plain.stdout, /235 /);
    const tlsSkip = perlHasSsl() ? false : skipUnlessTls();
    if (tlsSkip) return ctx.skip(tlsSkip);
    const login = await swaks(port, ['--tls', '--auth', 'LOGIN', '--auth-user', 'bob@example.test', '--auth-password', 'bob-secret', '--from', 'bob@example.test', '--to', 'alice@example.test', '--header', 'Subject: swaks login']);
    assert.equal(login.code, 0, login.stdout + login.stderr);
    assert.match(login.stdout, /235 2\.7\.0 Authentication successful/);
    const subjects = (await inbox(t, 'alice@example.test')).map((m) => /Subject: (.*)/.exec(m)?.[1]);
    assert.ok(subjects.includes('swaks login'));
    assert.ok(subjects.includes('swaks cram'));
  });

  test('SCRAM-SHA-256: login with proof and server signature; a wrong password fails 535 5.7.8', async () => {
    const c = await RawSmtp.connect(t.port('submission', 'implicit'), { implicitTls: true, ca });
    await c.read();
    const ehlo = await c.cmd('EHLO client.test');
    assert.ok(ehlo.lines.some((l) => l.startsWith('AUTH ') && l.includes('SCRAM-SHA-256')));
    const bad = await scramAuth(c, 'bob@example.test', 'wrong');
    assert.equal(bad.code, 535);
    const ok = await scramAuth(c, 'bob@example.test', 'bob-secret');
    assert.deepEqual(ok, { code: 235, serverSignatureOk: true });
    assert.equal((await c.cmd('MAIL FROM:<bob@example.test>')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<alice@example.test>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    c.write('From: bob@example.test\r\nSubject: via scram\r\n\r\nx\r\n.\r\n');
    assert.equal((await c.read()).code, 250);
    c.end();
    assert.ok((await inbox(t, 'alice@example.test')).some((m) => m.includes('Subject: via scram')));
  });

  test('an authenticated user may send only as their own addresses (+tags and their aliases included)', async () => {
    const c = await RawSmtp.connect(t.port('submission', 'implicit'), { implicitTls: true, ca });
    await c.read();
    await c.cmd('EHLO client.test');
    assert.equal((await c.cmd(`AUTH PLAIN ${b64('\0alice@example.test\0alice-secret')}`)).code, 235);
    let r = await c.cmd('MAIL FROM:<bob@example.test>');
    assert.equal(r.code, 553);
    assert.match(r.lines[0]!, /^5\.7\.1 /);
    assert.equal((await c.cmd('MAIL FROM:<>')).code, 553);
    assert.equal((await c.cmd('MAIL FROM:<alice+lists@example.test>')).code, 250);
    await c.cmd('RSET');
    assert.equal((await c.cmd('MAIL FROM:<sales@example.test>')).code, 250);
    await c.cmd('RCPT TO:<bob@example.test>');
    await c.cmd('DATA');
    c.write('From: Someone Else <bob@example.test>\r\nSubject: forged from\r\n\r\nx\r\n.\r\n');
    r = await c.read();
    assert.equal(r.code, 550);
    assert.match(r.lines[0]!, /^5\.7\.1 /);
    c.end();
  });

  test('commands before authentication are limited (smtp.maxUnauthenticatedCommands): then 421', async () => {
    const c = await RawSmtp.connect(t.port('submission', 'implicit'), { implicitTls: true, ca });
    await c.read();
    let last = await c.cmd('EHLO client.test');
    for (let i = 0; i < 20 && last.code !== 421; i++) last = await c.cmd('NOOP');
    assert.equal(last.code, 421);
    assert.ok(await c.closedByServer());
  });

  test('PLAIN with an authorization identity other than the login is refused', async () => {
    const c = await RawSmtp.connect(t.port('submission', 'implicit'), { implicitTls: true, ca });
    await c.read();
    await c.cmd('EHLO client.test');
    const r = await c.cmd(`AUTH PLAIN ${b64('bob@example.test\0alice@example.test\0alice-secret')}`);
    assert.equal(r.code, 535);
    c.end();
  });
});

describe('SMTP submission under a password-guessing attack', () => {
  let t: TestServer;

  before(async () => {
    t = await startTestServer({ auth: { maxFailuresPerIp: 5, throttleSeconds: 30 } }, { services: ['smtp'] });
    await t.addUser('carol@example.test', 'carol-secret');
  });

  after(async () => {
    await t?.stop();
  });

  test('a thousand wrong passwords from ten parallel clients: 535, then 454 4.7.0, 421 after 3 per connection; no crash', async () => {
    const codes = new Map<number, number>();
    let attempts = 0;
    const started = Date.now();
    // Plain connections (auth.plaintext = loopback allows it here), so the time goes to the logins, not TLS handshakes.
    const attacker = async () => {
      while (attempts < 1000 && Date.now() - started < 60_000) {
        const c = await RawSmtp.connect(t.port('submission', 'starttls'));
        await c.read();
        await c.cmd('EHLO attacker.test');
        for (let i = 0; i < 3; i++) {
          const r = await c.cmd(`AUTH PLAIN ${b64(`\0carol@example.test\0guess${attempts}`)}`);
          attempts++;
          codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
          assert.ok([535, 454, 421].includes(r.code), `unexpected ${r.raw}`);
          if (r.code === 421) break;
        }
        assert.ok(await c.closedByServer(), 'closed after three failures');
      }
    };
    await Promise.all(Array.from({ length: 10 }, attacker));
    assert.ok(attempts >= 1000, `only ${attempts} attempts in a minute`);
    assert.ok((codes.get(454) ?? 0) > 0, `throttled at some point: ${JSON.stringify([...codes])}`);
    // The server is still there, and the right password is still refused while this address is throttled.
    const c = await RawSmtp.connect(t.port('submission', 'implicit'), { implicitTls: true, ca: t.tls.cert });
    assert.equal((await c.read()).code, 220);
    await c.cmd('EHLO attacker.test');
    const r = await c.cmd(`AUTH PLAIN ${b64('\0carol@example.test\0carol-secret')}`);
    assert.equal(r.code, 454);
    c.end();
  });
});
