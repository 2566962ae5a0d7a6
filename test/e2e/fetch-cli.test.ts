/**
 * `mailroom fetch add|list|remove|run` as an administrator uses them: real
 * child processes, a real store, and a real POP3 server on loopback (the
 * scripted one from src/fetch, here speaking STARTTLS with a certificate the
 * config trusts through fetch.ca_file).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import { startResponder, type Responder, type ResponderMessage } from '../../src/fetch/pop3-responder.fixture.js';
import { ROOT, TSX, testCertificate, writeTestConfig } from '../helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'mailroom-fetch-cli-'));
let conf = '';
const responders: Responder[] = [];

/**
 * Runs the CLI as a child process. Asynchronously: the POP3 server it talks to
 * lives in this process, and spawnSync would stop it from answering.
 */
function mailroom(args: string[], input = ''): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), ...args, '--config', conf], {
      cwd: dir,
      env: { ...process.env, MAILROOM_CONFIG: '' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
    child.stdin.end(input);
  });
}

function assertCleanError(r: { code: number | null; err: string }, pattern: RegExp) {
  assert.notEqual(r.code, 0, 'must exit non-zero');
  assert.match(r.err, pattern);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
}

function msg(n: number, headers: string): ResponderMessage {
  return { uid: `cli-${n}`, body: Buffer.from(`Message-ID: <cli${n}@sender.test>\r\nSubject: cli ${n}\r\n${headers}\r\nbody ${n}\r\n`) };
}

describe('mailroom fetch (CLI)', () => {
  let provider: Responder;

  before(async () => {
    const pems = await testCertificate();
    conf = await writeTestConfig(join(dir, 'site'), { hostname: 'mail.firm.test', fetch: { caFile: join(dir, 'site', 'data', 'tls', 'cert.pem') } });
    provider = await startResponder(
      Array.from({ length: 150 }, (_, i) => msg(i + 1, i % 3 === 0 ? 'Delivered-To: bob@firm.test\r\n' : i % 3 === 1 ? 'To: Alice <alice@firm.test>\r\n' : 'To: someone@outside.test\r\n')),
      { tls: pems, user: 'office', pass: 'provider-secret' },
    );
    responders.push(provider);
    assert.equal((await mailroom(['domain', 'add', 'firm.test'])).code, 0);
    for (const u of ['alice', 'bob', 'postmaster']) assert.equal((await mailroom(['user', 'add', `${u}@firm.test`, '--password', 'pw'])).code, 0);
  });

  after(async () => {
    for (const r of responders) await r.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses bad input with one clear line', async () => {
    // In parallel: each is a process start.
    const cases: Array<[string[], RegExp]> = [
      [['fetch', 'add', 'x', '--protocol', 'smtp', '--host', 'h', '--user', 'u', '--to', 'alice@firm.test', '--password', 'p'], /--protocol must be one of pop3, imap/],
      [['fetch', 'add', 'x', '--protocol', 'pop3', '--host', 'h', '--user', 'u', '--tls', 'maybe', '--to', 'alice@firm.test', '--password', 'p'], /--tls must be one of/],
      [['fetch', 'add', 'x', '--protocol', 'pop3', '--host', 'h', '--user', 'u', '--password', 'p'], /--to <user>, or --multidrop --fallback <user>/],
      [['fetch', 'add', 'x', '--protocol', 'pop3', '--host', 'h', '--user', 'u', '--multidrop', '--password', 'p'], /--multidrop needs --fallback/],
      [['fetch', 'add', 'x', '--protocol', 'pop3', '--host', 'h', '--user', 'u', '--to', 'nobody@firm.test', '--password', 'p'], /no local user "nobody@firm\.test"/],
      [['fetch', 'add', 'x', '--protocol', 'pop3', '--host', 'h', '--user', 'u', '--to', 'alice@firm.test', '--interval', 'often', '--password', 'p'], /--interval must be a duration/],
      [['fetch', 'add', 'x', '--protocol', 'pop3', '--host', 'h', '--user', 'u', '--to', 'alice@firm.test', '--keep', '--delete', '--password', 'p'], /choose one of --keep, --delete/],
      [['fetch', 'run', 'nothing-here'], /no external account "nothing-here"/],
      [['fetch', 'remove', 'nothing-here'], /no external account "nothing-here"/],
    ];
    const results = await Promise.all(cases.map(([args]) => mailroom(args)));
    results.forEach((r, i) => assertCleanError(r, cases[i]![1]));
  });

  it('add (password on stdin, stored sealed), list, run with progress, list shows the result, remove', async () => {
    const add = await mailroom(
      ['fetch', 'add', 'office', '--protocol', 'pop3', '--host', '127.0.0.1', '--port', String(provider.port), '--tls', 'starttls', '--user', 'office', '--multidrop', '--fallback', 'postmaster@firm.test', '--delete', '--interval', '2m'],
      'provider-secret\n',
    );
    assert.equal(add.code, 0, add.err);
    assert.match(add.out, /added pop3 account office: office@127\.0\.0\.1:\d+ \(starttls\), every 2m, multi-drop \(fallback postmaster@firm\.test\), delete on the server/);
    const dup = await mailroom(['fetch', 'add', 'office', '--protocol', 'pop3', '--host', 'h', '--user', 'u', '--to', 'alice@firm.test', '--password', 'p']);
    assertCleanError(dup, /already exists/);

    const listed = JSON.parse((await mailroom(['fetch', 'list', '--json'])).out) as Array<Record<string, unknown>>;
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.name, 'office');
    assert.equal(listed[0]!.target, 'postmaster@firm.test');
    assert.equal(listed[0]!.sealedPassword, undefined, 'the sealed password is not printed');
    assert.ok(!JSON.stringify(listed).includes('provider-secret'));

    const run = await mailroom(['fetch', 'run', 'office']);
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /^office: 150 fetched, 150 deleted there in [\d.]+ s\n$/);
    assert.match(run.err, /office INBOX: 150 new message\(s\)/);
    assert.match(run.err, /office INBOX: 150\/150 \(100%\)/);
    assert.equal(provider.messages.length, 0);
    // STLS came before the password.
    assert.ok(provider.log.indexOf('STLS') >= 0 && provider.log.indexOf('STLS') < provider.log.findIndex((l) => l.startsWith('PASS')));

    const table = (await mailroom(['fetch', 'list'])).out;
    assert.match(table, /^NAME\s+SERVER\s+USER\s+DELIVERY/);
    assert.match(table, /office\s+pop3:\/\/127\.0\.0\.1:\d+ \(starttls\)\s+office\s+multi-drop, fallback postmaster@firm\.test\s+2m\s+delete\s+yes\s+\S+ \S+\s+150\s*\n/);

    const quota = async (u: string) => JSON.parse((await mailroom(['user', 'quota', u, '--json'])).out).messages as number;
    assert.equal(await quota('bob@firm.test'), 50);
    assert.equal(await quota('alice@firm.test'), 50);
    assert.equal(await quota('postmaster@firm.test'), 50);

    const rm = await mailroom(['fetch', 'remove', 'office']);
    assert.equal(rm.code, 0);
    assert.match((await mailroom(['fetch', 'list'])).out, /\(none\)/);
  });

  it('run reports a wrong password, exits non-zero, and list shows the error', async () => {
    const add = await mailroom(['fetch', 'add', 'bad', '--protocol', 'pop3', '--host', '127.0.0.1', '--port', String(provider.port), '--tls', 'starttls', '--user', 'office', '--to', 'alice@firm.test', '--password', 'wrong']);
    assert.equal(add.code, 0, add.err);
    const run = await mailroom(['fetch', 'run', '--json']);
    assert.equal(run.code, 1);
    const results = JSON.parse(run.out) as Array<{ account: string; error: string | null }>;
    assert.equal(results[0]!.account, 'bad');
    assert.match(results[0]!.error ?? '', /^auth: login refused/);
    const listed = JSON.parse((await mailroom(['fetch', 'list', '--json'])).out) as Array<{ lastError: string }>;
    assert.match(listed[0]!.lastError, /^auth: /);
  });

  it('a certificate the config does not trust is a clear tls error', async () => {
    const g = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, algorithm: 'sha256' });
    const other = await startResponder([], { tls: { key: g.private, cert: g.cert } });
    responders.push(other);
    const add = await mailroom(['fetch', 'add', 'untrusted', '--protocol', 'pop3', '--host', '127.0.0.1', '--port', String(other.port), '--tls', 'starttls', '--user', 'alice', '--to', 'alice@firm.test', '--password', 'secret']);
    assert.equal(add.code, 0, add.err);
    const run = await mailroom(['fetch', 'run', 'untrusted']);
    assert.equal(run.code, 1);
    assert.match(run.out, /^untrusted: 0 fetched in [\d.]+ s \(tls: /);
    assert.ok(!other.log.some((l) => l.startsWith('USER') || l.startsWith('PASS')), 'no credentials sent');
  });
});
