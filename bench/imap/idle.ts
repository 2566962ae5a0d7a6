/**
 * Memory of many IMAP connections sitting in IDLE: each logs in, selects its
 * INBOX and starts IDLE; the server's proportional set size (PSS, so shared
 * pages are not counted once per process) is read before and after.
 * Dovecot runs one imap process per connection and its peer config allows
 * about 2,000 of them, so it is measured at min(N, 2000) connections.
 */
import { readFileSync } from 'node:fs';
import { generateCorpus } from '../peers/corpus.js';
import { BenchClient } from './client.js';
import { startDovecotBench, startMailroomBench, type BenchServer } from './servers.js';

const DOVECOT_MAX = 2000;
const USERS = 20; // Dovecot allows 2,000 connections per user and IP: 100 per user here

/** PSS in KiB of a set of processes. */
export function pssKib(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (m) total += Number(m[1]);
    } catch {
      // gone, or not ours to read
    }
  }
  return total;
}

async function measure(server: BenchServer, n: number, log: (s: string) => void): Promise<{ n: number; beforeKib: number; afterKib: number; perConnKib: number; seconds: number }> {
  // Warm up: one full session, so lazy start-up costs are not charged to the connections.
  const warm = await BenchClient.connect(server.port);
  await warm.cmd(`LOGIN ${server.users[0]} ${server.password}`);
  await warm.cmd('SELECT INBOX');
  await warm.cmd('LOGOUT').catch(() => {});
  warm.close();
  await new Promise((r) => setTimeout(r, 1000));
  const beforeKib = pssKib(server.pids());
  const clients: BenchClient[] = [];
  const t0 = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const c = await BenchClient.connect(server.port);
      await c.cmd(`LOGIN ${server.users[i % server.users.length]} ${server.password}`);
      await c.cmd('SELECT INBOX');
      await c.startIdle();
      clients.push(c);
      if (clients.length % 1000 === 0) log(`  ${server.name}: ${clients.length} in IDLE (${((Date.now() - t0) / 1000).toFixed(0)}s)`);
    }
  };
  await Promise.all(Array.from({ length: 50 }, worker));
  const seconds = (Date.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 2000));
  const afterKib = pssKib(server.pids());
  for (const c of clients) c.close();
  return { n, beforeKib, afterKib, perConnKib: (afterKib - beforeKib) / n, seconds };
}

export async function runIdle(opts: { connections: number; workers: number; wantOurs: boolean; wantPeer: boolean; log: (s: string) => void }): Promise<void> {
  const { log } = opts;
  const corpus = generateCorpus({ count: 100, seed: 42 }).map((m) => m.raw);
  log(`IMAP idle connections: ${opts.connections} to mailroom (workers=${opts.workers}), ${Math.min(opts.connections, DOVECOT_MAX)} to Dovecot; ${USERS} users, 100 messages each`);
  const rows: string[] = [];
  const fmt = (r: Awaited<ReturnType<typeof measure>>, name: string) =>
    `${name.padEnd(9)} ${String(r.n).padStart(6)} conns  PSS before ${(r.beforeKib / 1024).toFixed(1)} MiB  after ${(r.afterKib / 1024).toFixed(1)} MiB  = ${r.perConnKib.toFixed(1)} KiB per connection  (set up in ${r.seconds.toFixed(0)}s)`;
  if (opts.wantOurs) {
    const s = await startMailroomBench({ users: USERS, messages: corpus, workers: opts.workers, log });
    try {
      rows.push(fmt(await measure(s, opts.connections, log), 'mailroom'));
    } finally {
      await s.stop();
    }
  }
  if (opts.wantPeer) {
    const s = await startDovecotBench({ users: USERS, messages: corpus, log });
    try {
      rows.push(fmt(await measure(s, Math.min(opts.connections, DOVECOT_MAX), log), 'dovecot'));
    } finally {
      await s.stop();
    }
  }
  log('');
  for (const r of rows) log(r);
}
