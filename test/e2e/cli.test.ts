/**
 * The `mailroom` command as an administrator uses it: real child processes,
 * a real SQLite store in a temp directory.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, TSX, spawnMailroom, writeTestConfig } from '../helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'mailroom-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function mailroom(args: string[], opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: opts.cwd ?? dir,
    input: opts.input ?? '',
    encoding: 'utf8',
    env: { ...process.env, MAILROOM_CONFIG: '', ...opts.env },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function assertCleanError(r: { code: number | null; err: string }, pattern: RegExp) {
  assert.notEqual(r.code, 0, 'must exit non-zero');
  assert.match(r.err, pattern);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
}

describe('mailroom CLI', () => {
  const conf = join(dir, 'site', 'mailroom.toml');
  let adminPassword = '';

  before(() => {
    const r = mailroom(['init', join(dir, 'site'), '--hostname', 'mail.example.org']);
    assert.equal(r.code, 0, r.err);
    adminPassword = /password: (\S+)/.exec(r.out)?.[1] ?? '';
  });

  it('init writes a config, a certificate, a secret key, a domain and an admin with a printed password', () => {
    assert.ok(existsSync(conf));
    assert.ok(existsSync(join(dir, 'site', 'data', 'tls', 'cert.pem')));
    assert.ok(existsSync(join(dir, 'site', 'data', 'secret.key')));
    assert.ok(adminPassword.length >= 16, 'a generated password was printed');
    const domains = JSON.parse(mailroom(['domain', 'list', '--json', '--config', conf]).out);
    assert.deepEqual(domains.map((d: { name: string }) => d.name), ['example.org']);
    const users = JSON.parse(mailroom(['user', 'list', '--json', '--config', conf]).out);
    assert.equal(users[0].address, 'postmaster@example.org');
    assert.equal(users[0].isAdmin, true);
  });

  it('init refuses to overwrite an existing config without --force', () => {
    assertCleanError(mailroom(['init', join(dir, 'site')]), /already exists.*--force/);
  });

  it('adds users with the password on stdin or --password, and refuses duplicates', () => {
    let r = mailroom(['user', 'add', 'alice@example.org', '--config', conf], { input: 's3cret-alice\n' });
    assert.equal(r.code, 0, r.err);
    r = mailroom(['user', 'add', 'bob@Example.ORG', '--password', 'pw-bob', '--quota', '10M', '--login', 'bob', '--config', conf]);
    assert.equal(r.code, 0, r.err);
    assertCleanError(mailroom(['user', 'add', 'alice@example.org', '--password', 'x', '--config', conf]), /already/);
    const users = JSON.parse(mailroom(['user', 'list', '--json', '--config', conf]).out) as Array<{ address: string; login: string; quota: number }>;
    const bob = users.find((u) => u.login === 'bob');
    assert.equal(bob?.address, 'bob@example.org');
    assert.equal(bob?.quota, 10 * 1024 * 1024);
  });

  it('gives one clear line for an address without a domain, an unknown domain, a bad size', () => {
    assertCleanError(mailroom(['user', 'add', 'carol', '--password', 'x', '--config', conf]), /no domain/);
    assertCleanError(mailroom(['user', 'add', 'carol@nowhere.test', '--password', 'x', '--config', conf]), /not hosted here.*domain add nowhere\.test/);
    assertCleanError(mailroom(['user', 'quota', 'alice@example.org', 'lots', '--config', conf]), /not a size/);
    assertCleanError(mailroom(['domain', 'add', 'exa mple.org', '--config', conf]), /not a valid domain/);
  });

  it('refuses a duplicate domain and removing a domain that still has users', () => {
    assertCleanError(mailroom(['domain', 'add', 'example.org', '--config', conf]), /already exists/);
    assertCleanError(mailroom(['domain', 'remove', 'example.org', '--config', conf]), /still has users/);
    assert.equal(mailroom(['domain', 'add', 'example.net', '--config', conf]).code, 0);
    assert.equal(mailroom(['domain', 'remove', 'example.net', '--config', conf]).code, 0);
  });

  it('manages aliases and catch-alls, quotas, passwords and mailboxes', () => {
    assert.equal(mailroom(['alias', 'add', 'sales@example.org', 'alice@example.org', 'bob@example.org', '--config', conf]).code, 0);
    assert.equal(mailroom(['alias', 'add', '@example.org', 'postmaster@example.org', '--config', conf]).code, 0);
    const aliases = JSON.parse(mailroom(['alias', 'list', '--json', '--config', conf]).out) as Array<{ address: string; targets: string[] }>;
    assert.deepEqual(aliases.find((a) => a.address === 'sales@example.org')?.targets, ['alice@example.org', 'bob@example.org']);
    assert.ok(aliases.some((a) => a.address === '@example.org'));
    assertCleanError(mailroom(['alias', 'add', 'alice@example.org', 'bob@example.org', '--config', conf]), /user's address/);

    const q = JSON.parse(mailroom(['user', 'quota', 'alice@example.org', '2G', '--json', '--config', conf]).out);
    assert.equal(q.limit, 2 * 1024 ** 3);
    assert.equal(mailroom(['user', 'passwd', 'alice@example.org', '--config', conf], { input: 'new-password\n' }).code, 0);

    const boxes = JSON.parse(mailroom(['mailbox', 'list', 'alice@example.org', '--json', '--config', conf]).out) as Array<{ name: string; specialUse: string | null }>;
    assert.deepEqual(boxes.map((b) => b.name).sort(), ['Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
    assert.equal(boxes.find((b) => b.name === 'Sent')?.specialUse, '\\Sent');
    const table = mailroom(['mailbox', 'list', 'alice@example.org', '--config', conf]).out;
    assert.match(table, /^MAILBOX\s+SPECIAL\s+MESSAGES/m);
  });

  it('has --help on every command', () => {
    for (const args of [['--help'], ['user', '--help'], ['user', 'add', '--help'], ['domain', 'remove', '--help'], ['alias', 'add', '--help'], ['start', '--help'], ['status', '--help'], ['init', '--help']]) {
      const r = mailroom(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
      assert.match(r.out, /Usage: mailroom/);
    }
  });

  it('reports a bad config key in one line naming the key', () => {
    const bad = join(dir, 'bad.toml');
    writeFileSync(bad, '[smtp]\nport = "x"\n');
    const r = mailroom(['user', 'list', '--config', bad]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /smtp\.port/);
    assert.doesNotMatch(r.err, /\n\s+at /);
  });

  it('reports an unwritable data directory and a PostgreSQL that is down clearly', () => {
    const ro = join(dir, 'ro.toml');
    writeFileSync(join(dir, 'afile'), 'a file where a folder should be');
    writeFileSync(ro, `data_dir = "${join(dir, 'afile')}/data"\n`);
    assertCleanError(mailroom(['user', 'list', '--config', ro]), /cannot be written|cannot open/);
    const pg = join(dir, 'pg.toml');
    writeFileSync(pg, `data_dir = "${join(dir, 'pgdata')}"\n[store]\nurl = "postgres://postgres@127.0.0.1:1/none"\n`);
    assertCleanError(mailroom(['user', 'list', '--config', pg]), /PostgreSQL.*refused/);
  });
});

describe('mailroom start', () => {
  it('with no config at all: first run in ./data prints the admin password, listens, and stops cleanly on SIGTERM', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'mailroom-fresh-'));
    try {
      // Ephemeral ports, as if an operator had only moved the ports: no config file is written.
      const env = { ...process.env, MAILROOM_CONFIG: '', MAILROOM_WORKERS: '1', MAILROOM_SMTP__PORT: '0', MAILROOM_SUBMISSION__PORT: '0', MAILROOM_SUBMISSION__TLS_PORT: '0', MAILROOM_POP3__PORT: '0', MAILROOM_POP3__TLS_PORT: '0', MAILROOM_IMAP__PORT: '0', MAILROOM_IMAP__TLS_PORT: '0' };
      const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), 'start'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      child.stderr.on('data', (c) => (out += c));
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      const deadline = Date.now() + 30_000;
      while (!/"msg":"ready"/.test(out)) {
        if (Date.now() > deadline) throw new Error(`not ready:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(out, /first run — created domain localhost and administrator postmaster@localhost/);
      assert.match(out, /password: \S{16,}/);
      assert.ok(existsSync(join(cwd, 'data', 'mailroom.db')));
      const status = JSON.parse(readFileSync(join(cwd, 'data', 'status.json'), 'utf8'));
      assert.equal(status.pid, child.pid);
      const st = mailroom(['status', '--json'], { cwd });
      assert.equal(st.code, 0, st.err);
      assert.equal(JSON.parse(st.out).running, true);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.equal(existsSync(join(cwd, 'data', 'status.json')), false);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('stops with a clear error when a worker cannot listen (a port in use), instead of restarting it forever', async () => {
    const site = mkdtempSync(join(tmpdir(), 'mailroom-busy-'));
    const blocker = createServer();
    try {
      const port = await new Promise<number>((res) => blocker.listen(0, '127.0.0.1', () => res((blocker.address() as { port: number }).port)));
      const path = await writeTestConfig(site, { smtp: { port } });
      const r = spawnSync(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), 'start', '--workers', '2', '--config', path], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /port is already in use/);
      assert.match(r.stderr, /a worker could not start/);
    } finally {
      blocker.close();
      rmSync(site, { recursive: true, force: true });
    }
  });

  it('runs several worker processes that share the listeners', async () => {
    const site = mkdtempSync(join(tmpdir(), 'mailroom-workers-'));
    try {
      const path = await writeTestConfig(site, { log: { level: 'info' } });
      const m = await spawnMailroom(path, { workers: 2 });
      try {
        const st = JSON.parse(mailroom(['status', '--json', '--config', path]).out);
        assert.equal(st.workers, 2);
        const workerPids = new Set([...m.output().matchAll(/"pid":(\d+)/g)].map((x) => x[1]));
        assert.ok(workerPids.size >= 3, `primary and two workers logged: ${[...workerPids]}`);
      } finally {
        m.kill('SIGTERM');
        assert.equal(await m.exited, 0);
      }
    } finally {
      rmSync(site, { recursive: true, force: true });
    }
  });
});
