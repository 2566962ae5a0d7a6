/**
 * Relay control and access control end to end. Every test client connects
 * from 127.0.0.1, which is untrusted unless a rule says otherwise.
 *
 * - Relay modes: none, authenticated users, trusted hosts, listed domains and
 *   addresses; relayed mail lands in the outbound queue (the queue service is
 *   not started here, so it stays there to be looked at).
 * - The open-relay tricks (percent hack, bang path, quoted local part, source
 *   route, address literals, trailing dots) are refused, and nothing is queued.
 * - Access rules (deny and allow lists, blocked senders, sender domains and
 *   hosts) refuse at the stage they match, including rules added with the
 *   `mailroom access` CLI while the server runs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { ROOT, startTestServer, type TestServer } from '../helpers/server.js';
import { python, RawSmtp, run, skipUnless, swaks } from './smtp-helpers.js';

async function mx(t: TestServer, opts: { helo?: string; from?: string } = {}): Promise<RawSmtp> {
  const c = await RawSmtp.connect(t.port('smtp'));
  const g = await c.read();
  assert.equal(g.code, 220, g.raw);
  assert.equal((await c.cmd(`EHLO ${opts.helo ?? 'client.test'}`)).code, 250);
  const m = await c.cmd(`MAIL FROM:<${opts.from ?? 'sender@remote.test'}>`);
  assert.equal(m.code, 250, m.raw);
  return c;
}

async function queuedTo(t: TestServer, address: string): Promise<boolean> {
  return (await t.store.listQueue()).some((q) => q.recipients.some((r) => r.address.toLowerCase() === address.toLowerCase()));
}

async function clearRules(t: TestServer): Promise<void> {
  for (const r of await t.store.listRelayRules()) await t.store.removeRelayRule(r.id);
  for (const r of await t.store.listAccessRules()) await t.store.removeAccessRule(r.id);
}

/** Send one message over a raw session; returns the RCPT reply and (if accepted) the DATA reply. */
async function attempt(t: TestServer, rcpt: string): Promise<{ rcpt: number; text: string; data?: number }> {
  const c = await mx(t);
  const r = await c.cmd(`RCPT TO:<${rcpt}>`);
  let data: number | undefined;
  if (r.code === 250) {
    await c.cmd('DATA');
    c.write('Subject: relay attempt\r\n\r\nx\r\n.\r\n');
    data = (await c.read()).code;
  }
  c.end();
  return { rcpt: r.code, text: r.lines[0] ?? '', data };
}

describe('SMTP relay control', () => {
  let t: TestServer;

  before(async () => {
    t = await startTestServer({ smtp: { policyCacheSeconds: 0 } }, { services: ['smtp'] });
    await t.addUser('alice@example.test', 'alice-secret');
  });

  after(async () => {
    await t?.stop();
  });

  test('unauthenticated, untrusted: local mail yes, relaying no (swaks sees 554 5.7.1)', async (ctx) => {
    await clearRules(t);
    const skip = skipUnless('swaks');
    if (skip) return ctx.skip(skip);
    const r = await swaks(t.port('smtp'), ['--to', 'victim@remote.test', '--from', 'spammer@remote.test']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /<\*\* 554 5\.7\.1 Relay access denied/);
    assert.ok(!(await queuedTo(t, 'victim@remote.test')));
    const ok = await swaks(t.port('smtp'), ['--to', 'alice@example.test', '--from', 'friend@remote.test']);
    assert.equal(ok.code, 0, ok.stdout);
  });

  test('authenticated users relay (relay.authenticated = true): queued for the outbound queue', async () => {
    await clearRules(t);
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: t.port('submission', 'starttls'),
      requireTLS: true,
      tls: { ca: t.tls.cert, servername: 'localhost' },
      auth: { user: 'alice@example.test', pass: 'alice-secret' },
    });
    const info = await transport.sendMail({ from: 'alice@example.test', to: 'friend@remote.test', subject: 'out', text: 'hi' });
    transport.close();
    assert.deepEqual(info.accepted, ['friend@remote.test']);
    assert.ok(await queuedTo(t, 'friend@remote.test'));
  });

  test('trusted hosts relay without authentication; removing the rule stops it', async (ctx) => {
    await clearRules(t);
    const skip = skipUnless('python3');
    if (skip) return ctx.skip(skip);
    const rule = await t.store.addRelayRule('trustedIp', '127.0.0.0/8', 'test');
    const r = await python(
      `
import smtplib
s = smtplib.SMTP('127.0.0.1', port, timeout=15)
print('refused', s.sendmail('printer@office.test', ['boss@remote.test'], 'Subject: scan\\r\\n\\r\\nscan\\r\\n'))
s.quit()
`,
      { port: t.port('smtp') },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await queuedTo(t, 'boss@remote.test'));
    await t.store.removeRelayRule(rule.id);
    assert.equal((await attempt(t, 'boss2@remote.test')).rcpt, 554);
  });

  test('listed domains and addresses are relayed for anyone; nothing else is', async () => {
    await clearRules(t);
    await t.store.addRelayRule('domain', 'backup.test');
    await t.store.addRelayRule('domain', '.sub.test');
    await t.store.addRelayRule('address', 'gateway@partner.test');
    assert.deepEqual(await attempt(t, 'anyone@backup.test').then((r) => [r.rcpt, r.data]), [250, 250]);
    assert.equal((await attempt(t, 'x@deep.sub.test')).rcpt, 250);
    assert.equal((await attempt(t, 'gateway@partner.test')).rcpt, 250);
    assert.equal((await attempt(t, 'other@partner.test')).rcpt, 554);
    assert.equal((await attempt(t, 'x@mx.backup.test')).rcpt, 554);
    assert.ok(await queuedTo(t, 'anyone@backup.test'));
  });

  test('relay "none": with relay.authenticated = false and no rules, not even a logged-in user relays', async () => {
    const none = await startTestServer({ relay: { authenticated: false }, smtp: { policyCacheSeconds: 0 } }, { services: ['smtp'] });
    try {
      await none.addUser('alice@example.test', 'alice-secret');
      const c = await RawSmtp.connect(none.port('submission', 'implicit'), { implicitTls: true, ca: none.tls.cert });
      await c.read();
      await c.cmd('EHLO client.test');
      assert.equal((await c.cmd(`AUTH PLAIN ${Buffer.from('\0alice@example.test\0alice-secret').toString('base64')}`)).code, 235);
      assert.equal((await c.cmd('MAIL FROM:<alice@example.test>')).code, 250);
      const r = await c.cmd('RCPT TO:<friend@remote.test>');
      assert.equal(r.code, 554);
      assert.match(r.lines[0]!, /^5\.7\.1 /);
      assert.equal((await c.cmd('RCPT TO:<alice@example.test>')).code, 250, 'local delivery still works');
      c.end();
      assert.equal((await none.store.listQueue()).length, 0);
    } finally {
      await none.stop();
    }
  });

  test('the open-relay tricks are all refused for an untrusted client, in every mode, and nothing is queued', async () => {
    const tricks = [
      'victim%remote.test@example.test',
      'victim%remote.test@EXAMPLE.test',
      'remote.test!victim@example.test',
      '"victim@remote.test"@example.test',
      '"victim%remote.test"@example.test',
      '"victim"@remote.test',
      '@example.test:victim@remote.test',
      '@example.test,@mail.test:victim@remote.test',
      'victim@[127.0.0.1]',
      'victim@[IPv6:::1]',
      'victim%remote.test@[127.0.0.1]',
      'victim@remote.test.',
      'victim@example.test.',
      'victim%remote.test@backup.test',
      'remote.test!victim@backup.test',
    ];
    const modes: Array<[string, () => Promise<void>]> = [
      ['authenticated only', async () => undefined],
      ['listed domain', async () => void (await t.store.addRelayRule('domain', 'backup.test'))],
      ['trusted elsewhere', async () => void (await t.store.addRelayRule('trustedIp', '10.0.0.0/8'))],
    ];
    for (const [mode, setup] of modes) {
      await clearRules(t);
      await setup();
      const before = (await t.store.listQueue()).length;
      for (const trick of tricks) {
        const r = await attempt(t, trick);
        assert.ok(r.rcpt >= 500 && r.rcpt < 600, `${mode}: ${trick} got ${r.rcpt} ${r.text}`);
      }
      assert.equal((await t.store.listQueue()).length, before, `${mode}: nothing queued`);
    }
    const users = await t.store.listUsers();
    for (const u of users) {
      const mb = await t.store.getMailbox(u.id, 'INBOX');
      const msgs = await t.store.getMessages(mb!.id, (await t.store.listMessages(mb!.id)).map((m) => m.uid));
      assert.ok(!msgs.some((m) => m.index.subject === 'relay attempt'), 'no trick was delivered locally either');
    }
  });

  test('a login made before STARTTLS does not survive it (RFC 3207 4.2): no relaying afterwards', async () => {
    await clearRules(t);
    const c = await RawSmtp.connect(t.port('smtp'));
    await c.read();
    await c.cmd('EHLO client.test');
    // auth.plaintext = loopback: a plaintext login is allowed here before TLS.
    assert.equal((await c.cmd(`AUTH PLAIN ${Buffer.from('\0alice@example.test\0alice-secret').toString('base64')}`)).code, 235);
    await c.starttls(t.tls.cert);
    await c.cmd('EHLO client.test');
    assert.equal((await c.cmd('MAIL FROM:<alice@example.test>')).code, 250);
    const r = await c.cmd('RCPT TO:<after-starttls@remote.test>');
    assert.equal(r.code, 554);
    c.end();
    assert.ok(!(await queuedTo(t, 'after-starttls@remote.test')));
  });

  test('DSN parameters (RET, ENVID, NOTIFY, ORCPT) travel into the queue entry', async () => {
    await clearRules(t);
    await t.store.addRelayRule('trustedIp', '127.0.0.1');
    const c = await RawSmtp.connect(t.port('smtp'));
    await c.read();
    await c.cmd('EHLO client.test');
    assert.equal((await c.cmd('MAIL FROM:<app@office.test> RET=HDRS ENVID=job+2B42')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<dsn@remote.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;dsn@remote.test')).code, 250);
    await c.cmd('DATA');
    c.write('Subject: dsn\r\n\r\nx\r\n.\r\n');
    assert.equal((await c.read()).code, 250);
    c.end();
    const entry = (await t.store.listQueue()).find((q) => q.recipients.some((r) => r.address === 'dsn@remote.test'))!;
    assert.equal(entry.dsnRet, 'HDRS');
    assert.equal(entry.dsnEnvid, 'job+42');
    assert.equal(entry.recipients[0]!.dsnNotify, 'SUCCESS,FAILURE');
    assert.equal(entry.recipients[0]!.dsnOrcpt, 'rfc822;dsn@remote.test');
  });
});

describe('SMTP access control', () => {
  let t: TestServer;

  before(async () => {
    t = await startTestServer({ smtp: { policyCacheSeconds: 0 } }, { services: ['smtp'] });
    await t.addUser('alice@example.test', 'alice-secret');
  });

  after(async () => {
    await t?.stop();
  });

  test('deny list: a denied address is refused at connect with 554 5.7.1', async () => {
    await clearRules(t);
    const rule = await t.store.addAccessRule('denyIp', '127.0.0.0/8');
    const c = await RawSmtp.connect(t.port('smtp'));
    const r = await c.read();
    assert.equal(r.code, 554);
    assert.match(r.lines[0]!, /^5\.7\.1 /);
    assert.ok(await c.closedByServer());
    await t.store.removeAccessRule(rule.id);
  });

  test('allow list: once it has entries, others are refused; listing our address lets us in', async () => {
    await clearRules(t);
    await t.store.addAccessRule('allowIp', '10.0.0.0/8');
    let c = await RawSmtp.connect(t.port('smtp'));
    assert.equal((await c.read()).code, 554);
    c.end();
    await t.store.addAccessRule('allowIp', '127.0.0.1');
    c = await RawSmtp.connect(t.port('smtp'));
    assert.equal((await c.read()).code, 220);
    c.end();
  });

  test('blocked sender, sender domain and HELO host are refused at MAIL with 550 5.7.1 (swaks)', async (ctx) => {
    await clearRules(t);
    const skip = skipUnless('swaks');
    if (skip) return ctx.skip(skip);
    await t.store.addAccessRule('blockSender', 'spammer@remote.test');
    await t.store.addAccessRule('blockSenderDomain', 'junk.test');
    await t.store.addAccessRule('blockHost', 'botnet.test');
    const port = t.port('smtp');
    for (const args of [
      ['--from', 'Spammer@Remote.test'],
      ['--from', 'anyone@mail.junk.test'],
      ['--from', 'ok@remote.test', '--helo', 'zombie42.botnet.test'],
    ]) {
      const r = await run('swaks', ['--server', `127.0.0.1:${port}`, '--to', 'alice@example.test', '--timeout', '15', '--helo', 'client.test', ...args]);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stdout, /<\*\* 550 5\.7\.1 /, args.join(' '));
    }
    const fine = await swaks(port, ['--from', 'friend@remote.test', '--to', 'alice@example.test']);
    assert.equal(fine.code, 0, fine.stdout);
  });

  test('rules added with the CLI (mailroom access, mailroom relay) while the server runs take effect', async () => {
    await clearRules(t);
    const config = join(t.dataDir, 'cli.toml');
    writeFileSync(config, `data_dir = ${JSON.stringify(t.dataDir)}\n`);
    const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args, '--config', config], { timeoutMs: 60_000 });
    const added = await cli('access', 'block-sender', 'cli-blocked@remote.test', '--note', 'from the test');
    assert.equal(added.code, 0, added.stderr);
    const listed = await cli('access', 'list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    const rules = JSON.parse(listed.stdout) as Array<{ rule: string; value: string; note: string }>;
    assert.deepEqual(
      rules.map((r) => [r.rule, r.value, r.note]),
      [['block-sender', 'cli-blocked@remote.test', 'from the test']],
    );
    const c = await RawSmtp.connect(t.port('smtp'));
    await c.read();
    await c.cmd('EHLO client.test');
    const r = await c.cmd('MAIL FROM:<cli-blocked@remote.test>');
    assert.equal(r.code, 550);
    c.end();

    assert.equal((await attempt(t, 'via-cli@remote.test')).rcpt, 554);
    const trusted = await cli('relay', 'trust', '127.0.0.0/8', '--note', 'local tools');
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.match(trusted.stdout, /added relay rule \d+: trust 127\.0\.0\.0\/8/);
    assert.deepEqual(await attempt(t, 'via-cli@remote.test'), { rcpt: 250, text: '2.1.5 Accepted', data: 250 });
    assert.ok(await queuedTo(t, 'via-cli@remote.test'));
  });
});
