/**
 * POP3 features an administrator turns on or that depend on configuration:
 * plaintext refused without TLS, APOP, LOGIN-DELAY, retention (EXPIRE),
 * throttling, idle timeouts; the maildrop lock across two servers on one
 * store, and a kill -9 in the middle of a session.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { loadConfig, deepMerge } from '../../src/config/load.js';
import { sweepRetention } from '../../src/pop3/retention.js';
import { sampleMessage, WireClient } from '../../src/pop3/testing.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { baseTestConfig, ROOT, spawnMailroom, startTestServer, TSX, writeTestConfig, type SpawnedMailroom, type TestServer } from '../helpers/server.js';

let n = 0;
async function newUser(srv: TestServer, count: number): Promise<{ login: string; password: string }> {
  const login = `cfg${++n}@example.org`;
  const password = `cfg-pass-${n}`;
  await srv.addUser(login, password);
  for (let i = 1; i <= count; i++) await srv.deliver(login, sampleMessage(i, login));
  return { login, password };
}

async function open(port: number, tls?: string): Promise<{ c: WireClient; greeting: string }> {
  const c = await WireClient.connect(port, tls ? { tls: { ca: tls } } : {});
  return { c, greeting: await c.line() };
}

async function capa(c: WireClient): Promise<string[]> {
  assert.match(await c.cmd('CAPA'), /^\+OK/);
  return c.body();
}

describe('pop3 with plaintext refused, APOP, LOGIN-DELAY and retention', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer(
      {
        auth: { plaintext: 'never', mechanisms: ['PLAIN', 'SCRAM-SHA-256'], maxFailuresPerIp: 1000, maxFailuresPerAccount: 2, throttleSeconds: 30 },
        pop3: { apop: true, loginDelay: 4, retentionDays: 3 },
      },
      { services: ['pop3'] },
    );
  });
  after(async () => {
    await srv?.stop();
  });

  it('without TLS: no USER or PLAIN in CAPA, USER/AUTH PLAIN get -ERR [AUTH]; after STLS they work', async () => {
    const u = await newUser(srv, 1);
    const { c } = await open(srv.port('pop3'));
    const caps = await capa(c);
    assert.ok(!caps.includes('USER'));
    assert.ok(caps.includes('SASL SCRAM-SHA-256'));
    assert.ok(caps.includes('STLS'));
    assert.equal(await c.cmd(`USER ${u.login}`), '-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS');
    assert.equal(await c.cmd('AUTH PLAIN'), '-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS');
    assert.equal(await c.cmd('STLS'), '+OK Begin TLS negotiation');
    await c.startTls(srv.tls.cert);
    const tlsCaps = await capa(c);
    assert.ok(tlsCaps.includes('USER') && tlsCaps.includes('SASL PLAIN SCRAM-SHA-256') && !tlsCaps.includes('STLS'));
    assert.match(await c.cmd(`USER ${u.login}`), /^\+OK/);
    assert.match(await c.cmd(`PASS ${u.password}`), /^\+OK .* has 1 messages/);
    await c.cmd('QUIT');
  });

  it('APOP: the greeting carries a timestamp; md5(timestamp + password) logs in; a wrong digest does not', async () => {
    const u = await newUser(srv, 2);
    const { c, greeting } = await open(srv.port('pop3'));
    const stamp = /(<[^>]+>)$/.exec(greeting)?.[1];
    assert.ok(stamp, `timestamp in ${greeting}`);
    assert.equal(await c.cmd(`APOP ${u.login} ${'0'.repeat(32)}`), '-ERR [AUTH] Authentication failed');
    const digest = createHash('md5').update(stamp + u.password).digest('hex');
    assert.match(await c.cmd(`APOP ${u.login} ${digest}`), /^\+OK .* has 2 messages/);
    await c.cmd('QUIT');
    // Another connection has another timestamp: replaying the digest fails.
    const second = await open(srv.port('pop3'));
    assert.notEqual(second.greeting, greeting);
    assert.equal(await second.c.cmd(`APOP ${u.login} ${digest}`), '-ERR [AUTH] Authentication failed');
    second.c.end();
  });

  it('LOGIN-DELAY is advertised; logging in again within it gets -ERR [LOGIN-DELAY]', async () => {
    const u = await newUser(srv, 0);
    const tlsPort = srv.port('pop3', 'implicit');
    const a = await open(tlsPort, srv.tls.cert);
    assert.ok((await capa(a.c)).includes('LOGIN-DELAY 4'));
    await a.c.cmd(`USER ${u.login}`);
    assert.match(await a.c.cmd(`PASS ${u.password}`), /^\+OK/);
    await a.c.cmd('QUIT');
    const b = await open(tlsPort, srv.tls.cert);
    await b.c.cmd(`USER ${u.login}`);
    assert.equal(await b.c.cmd(`PASS ${u.password}`), '-ERR [LOGIN-DELAY] Logged in too recently; the minimum is 4 seconds between logins');
    await new Promise((r) => setTimeout(r, 4100));
    await b.c.cmd(`USER ${u.login}`);
    assert.match(await b.c.cmd(`PASS ${u.password}`), /^\+OK/);
    await b.c.cmd('QUIT');
  });

  it('too many failures on an account: -ERR [SYS/TEMP] with the wait, before the password is checked', async () => {
    const u = await newUser(srv, 0);
    const { c } = await open(srv.port('pop3', 'implicit'), srv.tls.cert);
    for (let i = 0; i < 2; i++) {
      await c.cmd(`USER ${u.login}`);
      assert.equal(await c.cmd('PASS nope'), '-ERR [AUTH] Authentication failed');
    }
    await c.cmd(`USER ${u.login}`);
    assert.match(await c.cmd(`PASS ${u.password}`), /^-ERR \[SYS\/TEMP\] Too many failed logins; try again in \d+ seconds$/);
  });

  it('retention: EXPIRE 3; the sweep removes only messages retrieved more than 3 days ago, never a held maildrop', async () => {
    const u = await newUser(srv, 4);
    const held = await newUser(srv, 1);
    const tlsPort = srv.port('pop3', 'implicit');
    const { c } = await open(tlsPort, srv.tls.cert);
    assert.ok((await capa(c)).includes('EXPIRE 3'));
    await c.cmd(`USER ${u.login}`);
    await c.cmd(`PASS ${u.password}`);
    assert.match(await c.cmd('RETR 1'), /^\+OK/);
    await c.body();
    assert.match(await c.cmd('TOP 2 0'), /^\+OK/);
    await c.body();
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    await c.closed;
    // The other user's message was retrieved too, and a session holds that maildrop now.
    const heldUser = (await srv.store.getUserByLogin(held.login))!;
    const heldInbox = (await srv.store.getMailbox(heldUser.id, 'INBOX'))!;
    await srv.store.markRetrieved(heldInbox.id, (await srv.store.listMessages(heldInbox.id)).map((m) => m.uid));
    const h2 = await open(tlsPort, srv.tls.cert);
    await h2.c.cmd(`USER ${held.login}`);
    assert.match(await h2.c.cmd(`PASS ${held.password}`), /^\+OK/);

    const log = pino({ level: 'silent' });
    const soon = await sweepRetention(srv.store, 3, log, new Date(Date.now() + 2 * 86_400_000));
    assert.equal(soon.removed, 0, 'two days later nothing is old enough');
    const later = await sweepRetention(srv.store, 3, log, new Date(Date.now() + 4 * 86_400_000));
    assert.equal(later.removed, 2, 'RETR and TOP messages go, the two never fetched stay');
    assert.equal(later.skipped, 1, 'the held maildrop is left alone');
    const user = (await srv.store.getUserByLogin(u.login))!;
    const inbox = (await srv.store.getMailbox(user.id, 'INBOX'))!;
    assert.equal((await srv.store.listMessages(inbox.id)).length, 2);
    assert.match(await h2.c.cmd('STAT'), /^\+OK 1 /);
    await h2.c.cmd('QUIT');
    await h2.c.closed;
    await new Promise((r) => setTimeout(r, 100));
    const last = await sweepRetention(srv.store, 3, log, new Date(Date.now() + 4 * 86_400_000));
    assert.deepEqual([last.removed, last.skipped], [1, 0]);
  });
});

describe('pop3 idle timeouts', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ pop3: { timeout: 1 } }, { services: ['pop3'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('a silent client is disconnected, before and after login; its DELE marks are dropped', async () => {
    const u = await newUser(srv, 2);
    const pre = await open(srv.port('pop3'));
    assert.equal(await pre.c.line(3000), '-ERR Disconnected for inactivity');
    await pre.c.closed;
    const { c } = await open(srv.port('pop3'));
    await c.cmd(`USER ${u.login}`);
    await c.cmd(`PASS ${u.password}`);
    assert.match(await c.cmd('DELE 1'), /^\+OK/);
    assert.equal(await c.line(3000), '-ERR Disconnected for inactivity');
    await c.closed;
    const user = (await srv.store.getUserByLogin(u.login))!;
    const inbox = (await srv.store.getMailbox(user.id, 'INBOX'))!;
    assert.equal((await srv.store.listMessages(inbox.id)).length, 2);
  });
});

describe('pop3 maildrop lock across servers and a crash', () => {
  it('two servers on one store: the second session gets [IN-USE]', async () => {
    const a = await startTestServer({}, { services: ['pop3'] });
    let b: RunningServer | null = null;
    try {
      const u = await newUser(a, 1);
      const loaded = loadConfig({ overrides: deepMerge(baseTestConfig(a.dataDir), {}), env: {}, cwd: a.dataDir });
      b = await startServer(loaded, { services: ['pop3'], runsJobs: false });
      const bPort = b.listeners().find((l) => l.name === 'pop3' && l.tls !== 'implicit')!.port;
      const first = await open(a.port('pop3'));
      await first.c.cmd(`USER ${u.login}`);
      assert.match(await first.c.cmd(`PASS ${u.password}`), /^\+OK/);
      const second = await open(bPort);
      await second.c.cmd(`USER ${u.login}`);
      assert.match(await second.c.cmd(`PASS ${u.password}`), /^-ERR \[IN-USE\]/);
      await first.c.cmd('QUIT');
      await first.c.closed;
      await second.c.cmd(`USER ${u.login}`);
      assert.match(await second.c.cmd(`PASS ${u.password}`), /^\+OK/);
      await second.c.cmd('QUIT');
    } finally {
      await b?.stop();
      await a.stop();
    }
  });

  it('kill -9 of the server during a session with DELE marks deletes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-pop3-kill-'));
    let child: SpawnedMailroom | null = null;
    try {
      const configPath = await writeTestConfig(dir, { log: { level: 'info' } });
      const loaded = loadConfig({ path: configPath, env: {}, cwd: dir });
      // Prepare the user with an in-process server on the same data directory, then hand over.
      const prep = await startServer(loaded, { services: [], runsJobs: false });
      const login = 'killed@example.org';
      await prep.store.addDomain('example.org');
      const user = await prep.store.addUser({ login, address: login, credentials: await prep.auth.deriveCredentials('kill-pass') });
      const { ingest } = await import('../../src/store/ingest.js');
      for (let i = 1; i <= 3; i++) {
        const { blob } = await ingest(prep.store.blobs, Buffer.from(sampleMessage(i, login)));
        await prep.route({ mailFrom: 'a@example.com', rcptTo: [{ address: login }], source: 'local' }, blob);
      }
      await prep.stop();
      child = await spawnMailroom(configPath, { workers: 1, timeoutMs: 120_000 });
      const { c } = await open(child.port('pop3'));
      await c.cmd(`USER ${login}`);
      assert.match(await c.cmd('PASS kill-pass'), /^\+OK .* has 3 messages/);
      for (const i of [1, 2, 3]) assert.match(await c.cmd(`DELE ${i}`), /^\+OK/);
      child.kill('SIGKILL');
      await child.exited;
      await c.closed;
      const check = await startServer(loaded, { services: [], runsJobs: false });
      const inbox = (await check.store.getMailbox(user.id, 'INBOX'))!;
      assert.equal((await check.store.listMessages(inbox.id)).length, 3);
      await check.stop();
    } finally {
      // A failed assertion must not leave the server running (the test process would never end).
      if (child) {
        child.kill('SIGKILL');
        await child.exited;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mailroom pop3 expire', () => {
  it('counts with --dry-run, then removes messages retrieved longer ago than --days', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-pop3-cli-'));
    try {
      const configPath = await writeTestConfig(dir);
      const loaded = loadConfig({ path: configPath, env: {}, cwd: dir });
      const srv = await startServer(loaded, { services: [], runsJobs: false });
      await srv.store.addDomain('example.org');
      const user = await srv.store.addUser({ login: 'old@example.org', address: 'old@example.org', credentials: await srv.auth.deriveCredentials('x-pass') });
      const { ingest } = await import('../../src/store/ingest.js');
      for (let i = 1; i <= 3; i++) {
        const { blob } = await ingest(srv.store.blobs, Buffer.from(sampleMessage(i, user.address)));
        await srv.route({ mailFrom: 'a@example.com', rcptTo: [{ address: user.address }], source: 'local' }, blob);
      }
      const inbox = (await srv.store.getMailbox(user.id, 'INBOX'))!;
      const [a, b, c] = (await srv.store.listMessages(inbox.id)).map((m) => m.uid);
      await srv.store.markRetrieved(inbox.id, [a!, b!], new Date(Date.now() - 10 * 86_400_000));
      await srv.store.markRetrieved(inbox.id, [c!], new Date());
      await srv.stop();
      const cli = (args: string[]) =>
        new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          execFile(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), 'pop3', 'expire', '--config', configPath, ...args], { cwd: dir, env: { ...process.env, MAILROOM_CONFIG: '' } }, (err, out, errOut) =>
            resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut }),
          );
        });
      const off = await cli([]);
      assert.notEqual(off.code, 0);
      assert.match(off.err, /retention is off/);
      const dry = await cli(['--days', '7', '--dry-run', '--json']);
      assert.equal(dry.code, 0, dry.err);
      assert.equal(JSON.parse(dry.out).wouldRemove, 2);
      const real = await cli(['--days', '7', '--json']);
      assert.equal(real.code, 0, real.err);
      assert.equal(JSON.parse(real.out).removed, 2);
      const check = await startServer(loaded, { services: [], runsJobs: false });
      assert.deepEqual((await check.store.listMessages(inbox.id)).map((m) => m.uid), [c]);
      await check.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

