/**
 * kill -9 during outbound delivery: a real `mailroom start` child process
 * delivers a queue of messages to an SMTP server on loopback; it is killed
 * while transactions are in flight (the remote holds its reply to the final
 * dot), restarted, and must then deliver every recipient exactly once:
 * nothing the remote acknowledged and we recorded is sent again, nothing is
 * forgotten, and the restarted node does not wait for the dead one's leases.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ingest } from '../../src/store/ingest.js';
import { startSmtpSink, startTestDns } from '../../src/delivery/outbound/testing.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { spawnMailroom, writeTestConfig, type SpawnedMailroom } from '../helpers/server.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(50);
  }
}

test('kill -9 while delivering: after restart every recipient is delivered exactly once', { timeout: 90_000 }, async () => {
  const DOMAINS = ['one.test', 'two.test', 'three.test'];
  const MESSAGES = 30;
  const dns = await startTestDns(Object.fromEntries(DOMAINS.flatMap((d) => [[d, { mx: [{ exchange: `mx.${d}`, priority: 10 }] }], [`mx.${d}`, { a: ['127.0.0.1'] }]])));
  cleanups.push(() => dns.close());

  // The remote answers the first 12 transactions at once, then holds every reply to the final dot.
  let mode: 'answer' | 'hold' = 'answer';
  let answered = 0;
  const held: Array<() => void> = [];
  const sink = await startSmtpSink({
    keepBodies: false,
    data: () => {
      if (mode === 'answer' && answered < 12) {
        answered++;
        return null;
      }
      if (mode === 'hold') return new Promise((res) => held.push(() => res(null)));
      answered++;
      return null;
    },
  });
  cleanups.push(() => sink.close());

  const dir = mkdtempSync(join(tmpdir(), 'mailroom-queue-crash-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = await writeTestConfig(dir, {
    log: { level: 'info' },
    smtp: { dnsServers: [dns.server] },
    queue: { remotePort: sink.port, timeout: 20, connectionsPerHost: 2, messagesPerConnection: 3, concurrency: 6 },
  });

  // Queue the messages before the server starts: 30 messages, each to two recipients in one of three domains.
  const loaded = loadConfig({ path: configPath, env: {} });
  let store: Store = await openStore(loaded);
  const expected: string[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const d = DOMAINS[i % DOMAINS.length]!;
    const { blob } = await ingest(store.blobs, Buffer.from(`From: a@example.org\r\nSubject: crash ${i}\r\n\r\nmessage ${i}\r\n`));
    const rcpts = [`m${i}a@${d}`, `m${i}b@${d}`];
    expected.push(...rcpts);
    await store.enqueue({ sender: 'a@example.org', blob, source: 'test', recipients: rcpts.map((address) => ({ address })) });
  }
  await store.close();

  let child: SpawnedMailroom = await spawnMailroom(configPath);
  cleanups.push(() => child.kill('SIGKILL'));

  // Let 12 transactions through, then hold: wait until connections sit in DATA with no reply.
  await until('12 transactions answered', () => answered >= 12);
  mode = 'hold';
  await until('transactions held in flight', () => held.length >= 2);
  // The 12 acknowledged transactions must be recorded before the kill (that is what "acknowledged" means for us).
  store = await openStore(loaded);
  const acknowledged = new Set(sink.messages.flatMap((m) => m.to));
  await until('acknowledged deliveries recorded', async () => {
    const all = await store.listQueue();
    const delivered = new Set(all.flatMap((e) => e.recipients.filter((r) => r.state === 'delivered').map((r) => r.address)));
    return [...acknowledged].every((a) => delivered.has(a));
  });
  await store.close();

  child.kill('SIGKILL');
  assert.equal(await child.exited, null, 'killed by a signal');
  // The held transactions lost their connection: the remote never acknowledged them, and
  // (like a remote that commits only with its reply) does not count them.
  await until('remote saw the connections go', () => sink.connections.current === 0);
  held.splice(0).forEach((release) => release());
  assert.ok(sink.messages.length >= 6 && sink.messages.length < MESSAGES, `some delivered before the kill (${sink.messages.length})`);

  // Restart: everything else must go out now, promptly (no waiting for the dead process's leases).
  mode = 'answer';
  const restarted = Date.now();
  child = await spawnMailroom(configPath);
  cleanups.push(() => child.kill('SIGKILL'));
  await until('every recipient delivered', () => sink.messages.reduce((n, m) => n + m.to.length, 0) >= expected.length, 30_000);
  assert.ok(Date.now() - restarted < 20_000, 'recovered without waiting for lease expiry');
  await sleep(300);

  // Exactly once per recipient at the remote.
  const counts = new Map<string, number>();
  for (const m of sink.messages) for (const t of m.to) counts.set(t, (counts.get(t) ?? 0) + 1);
  const twice = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'no recipient got the message twice');
  assert.deepEqual([...counts.keys()].sort(), [...expected].sort(), 'every recipient got it');

  // And the store agrees.
  store = await openStore(loaded);
  await until('all recorded', async () => (await store.listQueue()).every((e) => e.recipients.every((r) => r.state === 'delivered')));
  await store.close();
  child.kill('SIGTERM');
  await child.exited;
  assert.match(child.output(), /"msg":"queue runner started"/);
});
