/**
 * `mailroom queue …` and `mailroom domain dkim …` as an administrator runs
 * them, on a real data directory: the command groups registered on a fresh
 * commander program in this process (each `mailroom` child costs seconds of
 * start-up), plus one run of the real binary to show they are wired into it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, type LoadedConfig } from '../../src/config/load.js';
import { ingest } from '../../src/store/ingest.js';
import { FLUSH_SETTING } from '../../src/delivery/queue/runner.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { ROOT, writeTestConfig } from '../helpers/server.js';
import { Command } from 'commander';
import { registerAccountCommands } from '../../src/cli/commands/accounts.js';
import { registerDkimCommands } from '../../src/cli/commands/dkim.js';
import { registerQueueCommands } from '../../src/cli/commands/queue.js';
import { CliError } from '../../src/cli/context.js';
import { createCliContext } from '../../src/cli/context-impl.js';

const run = promisify(execFile);
let dir: string;
let configPath: string;
let loaded: LoadedConfig;
const ids: string[] = [];

/** Run a command in-process, as main.ts would (same context, same error printing rule). */
async function mailroom(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const cli = createCliContext();
  const program = new Command('mailroom').option('-c, --config <path>').exitOverride();
  registerAccountCommands(program, cli);
  registerQueueCommands(program, cli);
  registerDkimCommands(program, cli);
  program.commands.forEach(function walk(c: Command) {
    c.exitOverride();
    c.commands.forEach(walk);
  });
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  // The commands write strings; the test runner's own reports (binary, when run by
  // `node --test`) pass through untouched.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'mailroom', ...args, '--config', configPath]);
    return { code: 0, out, err: '' };
  } catch (e) {
    if (e instanceof CliError) return { code: e.exitCode, out, err: `mailroom: ${e.message}\n` };
    throw e;
  } finally {
    process.stdout.write = write;
  }
}

/** The real binary. */
async function mailroomBinary(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'bin/mailroom.js'), ...args, '--config', configPath], { cwd: ROOT });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

async function withStore<T>(fn: (s: Store) => Promise<T>): Promise<T> {
  const s = await openStore(loaded);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailroom-queue-cli-'));
  configPath = await writeTestConfig(dir);
  loaded = loadConfig({ path: configPath, env: {} });
  await withStore(async (s) => {
    await s.addDomain('example.org');
    for (const [i, to] of [['1', 'bob@remote.test'], ['2', 'carol@remote.test']] as const) {
      const { blob } = await ingest(s.blobs, Buffer.from(`From: a@example.org\r\nSubject: cli ${i}\r\n\r\nx\r\n`));
      const e = await s.enqueue({ sender: 'a@example.org', blob, source: 'submission', recipients: [{ address: to }, { address: `dave${i}@remote.test` }] });
      ids.push(e.id);
    }
    // One recipient deferred with a reply, as the runner would leave it.
    const [claim] = await s.claimQueue('cli-test', new Date(Date.now() + 1000), 1, 60_000);
    await s.recordAttempt(claim!.entry.id, 'cli-test', [
      { recipientId: claim!.recipients[0]!.id, state: 'deferred', reply: '450 4.2.0 Mailbox busy', host: 'mx.remote.test[127.0.0.1]:25', nextAttemptAt: new Date(Date.now() + 3600_000) },
      { recipientId: claim!.recipients[1]!.id, state: 'delivered', reply: '250 2.0.0 Ok', host: 'mx.remote.test[127.0.0.1]:25' },
    ]);
  });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('queue list: a table by default, JSON with --json (the real binary)', async () => {
  const table = await mailroomBinary('queue', 'list');
  assert.equal(table.code, 0, table.err);
  const lines = table.out.trim().split('\n');
  assert.match(lines[0]!, /^ID\s+AGE\s+SIZE\s+FROM\s+TO\s+STATE\s+NEXT\s+LAST REPLY$/);
  assert.equal(lines.length, 3);
  assert.ok(table.out.includes('1 deferred, 1 delivered'));
  assert.ok(table.out.includes('450 4.2.0 Mailbox busy'));

  const json = JSON.parse((await mailroom('queue', 'list', '--json')).out) as Array<{ id: string; recipients: Array<{ state: string }> }>;
  assert.deepEqual(json.map((e) => e.id).sort(), [...ids].sort());
});

test('queue show: every recipient with state, attempts, host and reply', async () => {
  const r = await mailroom('queue', 'show', ids[0]!);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^id:\\s+${ids[0]}$`, 'm'));
  assert.match(r.out, /bob@remote\.test\s+deferred\s+1\s+\S.*mx\.remote\.test\[127\.0\.0\.1\]:25\s+450 4\.2\.0 Mailbox busy/);
  assert.match(r.out, /dave1@remote\.test\s+delivered\s+1/);
  const missing = await mailroom('queue', 'show', 'NOSUCHID');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^mailroom: no queue entry NOSUCHID/);
});

test('hold, release, retry and flush change what the runner will do', async () => {
  assert.match((await mailroom('queue', 'hold', ids[1]!)).out, /held 1 entry/);
  assert.equal((await withStore((s) => s.getQueueEntry(ids[1]!)))!.held, true);
  assert.match((await mailroom('queue', 'release', '--all')).out, /released 1 entry/);
  assert.equal((await withStore((s) => s.getQueueEntry(ids[1]!)))!.held, false);

  assert.match((await mailroom('queue', 'retry', ids[0]!)).out, /1 recipient\(s\) due now/);
  const due = (await withStore((s) => s.getQueueEntry(ids[0]!)))!.recipients.find((r) => r.address === 'bob@remote.test')!;
  assert.ok(due.nextAttemptAt.getTime() <= Date.now());

  const before = await withStore((s) => s.getSetting(FLUSH_SETTING));
  const f = await mailroom('queue', 'flush');
  assert.equal(f.code, 0, f.err);
  assert.match(f.out, /3 recipient\(s\) due now/);
  const token = await withStore((s) => s.getSetting(FLUSH_SETTING));
  assert.ok(token && token !== before, 'the running runner sees a new flush token');
});

test('delete removes an entry for good', async () => {
  assert.match((await mailroom('queue', 'delete', ids[1]!)).out, /deleted 1 entry/);
  assert.equal(await withStore((s) => s.getQueueEntry(ids[1]!)), null);
});

test('domain dkim creates a key once, prints the record, and --new replaces it', async () => {
  const first = await mailroom('domain', 'dkim', 'example.org', '--selector', 'sel1');
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /created a new DKIM key for example\.org: rsa-sha256, selector sel1/);
  assert.match(first.out, /^sel1\._domainkey\.example\.org\. IN TXT \( "v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+" "[A-Za-z0-9+/=]+" \)$/m);
  const again = JSON.parse((await mailroom('domain', 'dkim', 'example.org', '--json')).out) as { created: boolean; selector: string; name: string; value: string };
  assert.equal(again.created, false);
  assert.equal(again.selector, 'sel1');
  assert.equal(again.name, 'sel1._domainkey.example.org');
  const rotated = JSON.parse((await mailroom('domain', 'dkim', 'example.org', '--new', '--algorithm', 'ed25519', '--selector', 'sel2', '--json')).out) as { created: boolean; value: string };
  assert.equal(rotated.created, true);
  assert.match(rotated.value, /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
});
