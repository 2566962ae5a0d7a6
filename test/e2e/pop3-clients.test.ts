/**
 * POP3 with the mail clients people run: fetchmail (keep and flush, UIDL-based,
 * over STLS), curl (pop3:// and pop3s://) and getmail6. A client that is not
 * installed is skipped, except under CI=true where every one must run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sampleMessage } from '../../src/pop3/testing.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let work: string;
let caFile: string;
let n = 0;

function missing(bin: string): string | false {
  if (existsSync(`/usr/bin/${bin}`) || existsSync(`/usr/local/bin/${bin}`)) return false;
  if (process.env.CI === 'true') throw new Error(`${bin} is required under CI=true (apt-get install ${bin})`);
  return `${bin} is not installed (skipped outside CI)`;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000, maxBuffer: 32 * 1024 * 1024, ...opts }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: stdout.toString(), stderr: stderr.toString() });
    });
  });
}

async function newUser(count: number): Promise<{ login: string; password: string; raws: string[] }> {
  const login = `client${++n}@example.org`;
  const password = `client-pass-${n}`;
  await srv.addUser(login, password);
  const raws: string[] = [];
  for (let i = 1; i <= count; i++) raws.push(await deliver(login, i));
  return { login, password, raws };
}

async function deliver(login: string, i: number): Promise<string> {
  const raw = sampleMessage(i, login);
  await srv.deliver(login, raw);
  return raw;
}

async function inboxCount(login: string): Promise<number> {
  const user = (await srv.store.getUserByLogin(login))!;
  const inbox = (await srv.store.getMailbox(user.id, 'INBOX'))!;
  return (await srv.store.listMessages(inbox.id)).length;
}

/** Subjects of the messages an mbox-ish file holds. */
function subjects(text: string): string[] {
  return [...text.matchAll(/^Subject: (message \d+)\r?$/gm)].map((m) => m[1]!).sort();
}

before(async () => {
  srv = await startTestServer({}, { services: ['pop3'] });
  work = mkdtempSync(join(tmpdir(), 'mailroom-pop3-clients-'));
  caFile = join(work, 'ca.pem');
  writeFileSync(caFile, srv.tls.cert);
});

after(async () => {
  await srv?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('fetchmail', () => {
  const skip = missing('fetchmail');

  /** One fetchmail run over STLS (certificate checked against our CA); returns the delivered text. */
  async function fetchmail(u: { login: string; password: string }, tag: string, mode: 'keep' | 'nokeep' | 'flush'): Promise<{ out: string; log: string }> {
    const dir = join(work, `fm-${u.login}`);
    const out = join(dir, `out-${tag}`);
    const rc = join(dir, 'fetchmailrc');
    await run('mkdir', ['-p', dir]);
    writeFileSync(out, '');
    writeFileSync(
      rc,
      `set no bouncemail\n` +
        `poll localhost with proto POP3 port ${srv.port('pop3')} uidl\n` +
        `  user "${u.login}" there with password "${u.password}" is root here\n` +
        `  ${mode === 'keep' ? 'keep' : mode === 'flush' ? 'no keep flush' : 'no keep'}\n` +
        `  sslproto tls1.2+ sslcertck sslcertfile "${caFile}"\n` +
        `  mda "cat >> ${out}"\n`,
      { mode: 0o600 },
    );
    const r = await run('fetchmail', ['--nosyslog', '--nodetach', '-f', rc, '--idfile', join(dir, 'ids'), '--pidfile', join(dir, 'pid'), '-v'], {
      env: { ...process.env, HOME: dir, FETCHMAILHOME: dir },
    });
    // 0: mail fetched, 1: no mail; anything else is a failure.
    assert.ok(r.code === 0 || r.code === 1, `fetchmail exit ${r.code}\n${r.stderr}\n${r.stdout}`);
    return { out: readFileSync(out, 'utf8'), log: r.stdout + r.stderr };
  }

  it('keep mode with UIDL: fetches each message once across runs and deletes nothing', { skip }, async () => {
    const u = await newUser(3);
    const first = await fetchmail(u, '1', 'keep');
    assert.deepEqual(subjects(first.out), ['message 1', 'message 2', 'message 3']);
    assert.match(first.log, /STLS/);
    await deliver(u.login, 4);
    await deliver(u.login, 5);
    const second = await fetchmail(u, '2', 'keep');
    assert.deepEqual(subjects(second.out), ['message 4', 'message 5'], 'only the new ones (UIDL)');
    const third = await fetchmail(u, '3', 'keep');
    assert.deepEqual(subjects(third.out), []);
    assert.equal(await inboxCount(u.login), 5);
  });

  it('no keep: fetches and deletes; flush also removes messages seen before', { skip }, async () => {
    const u = await newUser(2);
    const kept = await fetchmail(u, 'k', 'keep');
    assert.equal(subjects(kept.out).length, 2);
    await deliver(u.login, 3);
    const flushed = await fetchmail(u, 'f', 'flush');
    assert.deepEqual(subjects(flushed.out), ['message 3']);
    assert.equal(await inboxCount(u.login), 0, 'flush deleted the two old ones, fetching the new one deleted it');
    await deliver(u.login, 4);
    const fetched = await fetchmail(u, 'n', 'nokeep');
    assert.deepEqual(subjects(fetched.out), ['message 4']);
    assert.equal(await inboxCount(u.login), 0);
  });
});

describe('curl', () => {
  const skip = missing('curl');

  it('pop3:// lists and retrieves; -X DELE deletes', { skip }, async () => {
    const u = await newUser(2);
    const base = `pop3://127.0.0.1:${srv.port('pop3')}`;
    const auth = ['-u', `${u.login}:${u.password}`, '--silent', '--show-error'];
    const list = await run('curl', [...auth, `${base}/`]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.stdout.trim().split(/\r?\n/), u.raws.map((r, i) => `${i + 1} ${Buffer.byteLength(r)}`));
    const retr = await run('curl', [...auth, `${base}/2`]);
    assert.equal(retr.stdout, u.raws[1]);
    const uidl = await run('curl', [...auth, `${base}/`, '-X', 'UIDL']);
    assert.match(uidl.stdout, /^1 [0-9a-f]{16}\r?\n2 [0-9a-f]{16}/);
    const dele = await run('curl', [...auth, `${base}/1`, '-X', 'DELE', '-I']);
    assert.equal(dele.code, 0, dele.stderr);
    assert.equal(await inboxCount(u.login), 1);
  });

  it('pop3s:// (implicit TLS) and pop3:// with --ssl-reqd (STLS), certificate checked', { skip }, async () => {
    const u = await newUser(1);
    const auth = ['-u', `${u.login}:${u.password}`, '--silent', '--show-error', '--cacert', caFile];
    const implicit = await run('curl', [...auth, `pop3s://localhost:${srv.port('pop3', 'implicit')}/1`]);
    assert.equal(implicit.code, 0, implicit.stderr);
    assert.equal(implicit.stdout, u.raws[0]);
    const stls = await run('curl', [...auth, '--ssl-reqd', `pop3://localhost:${srv.port('pop3')}/1`]);
    assert.equal(stls.code, 0, stls.stderr);
    assert.equal(stls.stdout, u.raws[0]);
    const wrong = await run('curl', ['-u', `${u.login}:wrong`, '--silent', '--cacert', caFile, `pop3s://localhost:${srv.port('pop3', 'implicit')}/1`]);
    assert.equal(wrong.code, 67, 'curl: login denied');
  });
});

describe('getmail6', () => {
  const skip = missing('getmail');

  it('retrieves over implicit TLS (certificate checked), only new messages on the next run, keeping them', { skip }, async () => {
    const u = await newUser(3);
    const dir = join(work, `gm-${u.login}`);
    await run('mkdir', ['-p', dir]);
    const mbox = join(dir, 'inbox.mbox');
    writeFileSync(mbox, '');
    const rc = join(dir, 'getmailrc');
    writeFileSync(
      rc,
      `[retriever]\ntype = SimplePOP3SSLRetriever\nserver = localhost\nport = ${srv.port('pop3', 'implicit')}\n` +
        `username = ${u.login}\npassword = ${u.password}\nca_certs = ${caFile}\n\n` +
        // getmail refuses to write an mbox as root; an external MDA may be allowed to run as root.
        `[destination]\ntype = MDA_external\npath = /bin/sh\narguments = ("-c", "cat >> ${mbox}")\nallow_root_commands = true\n\n` +
        `[options]\nread_all = false\ndelete = false\nverbose = 1\n`,
    );
    const once = await run('getmail', ['--getmaildir', dir, '--rcfile', rc]);
    assert.equal(once.code, 0, once.stderr + once.stdout);
    assert.deepEqual(subjects(readFileSync(mbox, 'utf8')), ['message 1', 'message 2', 'message 3']);
    await deliver(u.login, 4);
    const twice = await run('getmail', ['--getmaildir', dir, '--rcfile', rc]);
    assert.equal(twice.code, 0, twice.stderr + twice.stdout);
    assert.deepEqual(subjects(readFileSync(mbox, 'utf8')), ['message 1', 'message 2', 'message 3', 'message 4']);
    assert.equal(await inboxCount(u.login), 4);
  });
});
