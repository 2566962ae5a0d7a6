/**
 * `workers = 2`: two processes share the listeners and the SQLite store; change
 * notifications go through the primary. IMAP sessions spread over both workers
 * must each hear of a delivery made by whichever worker took the SMTP session.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { ROOT, TSX, spawnMailroom, writeTestConfig, type SpawnedMailroom } from '../helpers/server.js';

describe('worker processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-workers-e2e-'));
  let server: SpawnedMailroom;

  before(async () => {
    const config = await writeTestConfig(dir, { log: { level: 'info' } });
    for (const args of [
      ['domain', 'add', 'example.test'],
      ['user', 'add', 'ann@example.test', '--password', 'ann-pass'],
    ]) {
      const r = spawnSync(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), ...args, '--config', config], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    server = await spawnMailroom(config, { workers: 2, timeoutMs: 60_000 });
  });

  after(async () => {
    server?.kill('SIGTERM');
    await server?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it('IDLE sessions on every worker hear a delivery made by any worker', async () => {
    const imapPort = server.port('imap');
    const clients: ImapFlow[] = [];
    const heard: Array<Promise<number>> = [];
    try {
      // Enough sessions that both workers hold some (the kernel spreads accepts).
      for (let i = 0; i < 8; i++) {
        const c = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user: 'ann@example.test', pass: 'ann-pass' }, logger: false, tls: { rejectUnauthorized: false } });
        await c.connect();
        await c.mailboxOpen('INBOX');
        heard.push(
          new Promise((resolve) => {
            c.on('exists', (d: { count: number }) => resolve(d.count));
          }),
        );
        clients.push(c);
        void c.idle().catch(() => {});
      }
      const workerPids = new Set([...server.output().matchAll(/"pid":(\d+)[^\n]*"msg":"worker ready"/g)].map((m) => m[1]));
      assert.equal(workerPids.size, 2, 'two workers started');
      // The test means something only if the sessions really are on both workers:
      // ask the kernel which process owns each accepted IMAP socket.
      const ss = spawnSync('ss', ['-Htnp', 'state', 'established', `sport = :${imapPort}`], { encoding: 'utf8' });
      const owners = new Set([...ss.stdout.matchAll(/pid=(\d+)/g)].map((m) => m[1]));
      assert.deepEqual([...owners].sort(), [...workerPids].sort(), `IMAP sessions on both workers (ss: ${ss.stdout || ss.stderr})`);

      const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.port('smtp'), secure: false, ignoreTLS: true });
      const sentAt = Date.now();
      await transport.sendMail({ from: 'someone@elsewhere.test', to: 'ann@example.test', subject: 'across workers', text: 'hello' });
      const counts = await Promise.race([
        Promise.all(heard),
        new Promise<never>((_, rej) => setTimeout(() => rej(new Error('not every session heard the delivery within 5 s')), 5000)),
      ]);
      assert.deepEqual(counts, counts.map(() => 1));
      assert.ok(Date.now() - sentAt < 5000);
    } finally {
      await Promise.all(clients.map((c) => c.logout().catch(() => {})));
    }
  });
});
