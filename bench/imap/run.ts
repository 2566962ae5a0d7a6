/**
 * IMAP benchmark: mailroom beside Dovecot (from Debian, bench/peers), same
 * messages, same client, same run, on loopback.
 *
 *   node --import tsx bench/imap/run.ts [mix] [--clients 20] [--seconds 20] [--messages 1000] [--workers 2]
 *   node --import tsx bench/imap/run.ts idle [--connections 10000]
 *   node --import tsx bench/imap/run.ts big [--messages 100000] [--data DIR]
 *
 * mix:  N clients, each on its own user, run the realistic mix (mix.ts) for a
 *       fixed time; commands/s for each server and the ratio, per-command medians,
 *       and server CPU seconds.
 * idle: memory of N connections logged in and sitting in IDLE (PSS of the
 *       server's processes, before and after), per connection.
 * big:  one mailbox of 100,000 messages: time of SELECT, UID FETCH 1:* (FLAGS),
 *       and a header SEARCH, median of 3 rounds each.
 *
 * Never part of `npm test`. Run one bench at a time (the machine's cores are shared).
 */
process.env.UV_THREADPOOL_SIZE ??= '16';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateCorpus } from '../peers/corpus.js';
import { cpuSeconds, formatTable, median, type Row } from '../peers/stats.js';
import { latencyTable, runBig } from './big.js';
import { runIdle } from './idle.js';
import { runMix, type MixResult, type Op } from './mix.js';
import { startDovecotBench, startMailroomBench, type BenchServer } from './servers.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    clients: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '20' },
    messages: { type: 'string' },
    workers: { type: 'string', default: String(availableParallelism()) },
    connections: { type: 'string', default: '10000' },
    only: { type: 'string' },
    data: { type: 'string' },
  },
});
const mode = positionals[0] ?? 'mix';
const log = (s: string) => console.log(s);
const wantPeer = values.only !== 'mailroom';
const wantOurs = values.only !== 'dovecot';

async function mix(): Promise<void> {
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  const count = Number(values.messages ?? 1000);
  const corpus = generateCorpus({ count, seed: 42 }).map((m) => m.raw);
  const appendMessage = generateCorpus({ count: 1, seed: 7 })[0]!.raw;
  log(`IMAP mix: ${clients} clients × ${seconds}s, ${count} messages per mailbox, mailroom workers=${values.workers}`);

  const results: Record<string, { total: number; rate: number; cpu: number; byOp: MixResult['byOp']; errors: string[] }> = {};
  const runOn = async (server: BenchServer) => {
    const cpu0 = cpuSeconds(server.pids());
    const t0 = Date.now();
    const runs = await Promise.all(
      server.users.map((user, i) => runMix({ port: server.port, user, password: server.password, seconds, seed: 1000 + i, appendMessage })),
    );
    const elapsed = (Date.now() - t0) / 1000;
    const cpu = cpuSeconds(server.pids()) - cpu0;
    const total = runs.reduce((n, r) => n + r.commands, 0);
    const byOp = {} as MixResult['byOp'];
    for (const r of runs) {
      for (const [op, v] of Object.entries(r.byOp) as Array<[Op, { count: number; ms: number[] }]>) {
        byOp[op] ??= { count: 0, ms: [] };
        byOp[op].count += v.count;
        byOp[op].ms.push(...v.ms);
      }
    }
    results[server.name] = { total, rate: total / elapsed, cpu, byOp, errors: runs.flatMap((r) => r.errors).slice(0, 5) };
    log(`  ${server.name}: ${total} commands in ${elapsed.toFixed(1)}s = ${(total / elapsed).toFixed(0)}/s, server CPU ${cpu.toFixed(1)}s`);
    if (results[server.name]!.errors.length) log(`  ${server.name} errors: ${results[server.name]!.errors.join(' | ')}`);
  };

  if (wantOurs) {
    log('loading mailroom…');
    const ours = await startMailroomBench({ users: clients, messages: corpus, workers: Number(values.workers), log });
    try {
      await runOn(ours);
    } finally {
      await ours.stop();
    }
  }
  if (wantPeer) {
    log('loading Dovecot…');
    const peer = await startDovecotBench({ users: clients, messages: corpus, log });
    try {
      await runOn(peer);
    } finally {
      await peer.stop();
    }
  }
  const a = results.mailroom;
  const b = results.dovecot;
  const rows: Row[] = [
    { label: 'commands/s', ours: a?.rate ?? NaN, theirs: b?.rate ?? null, unit: 'cmd/s' },
    { label: 'commands per server CPU second', ours: a ? a.total / Math.max(a.cpu, 0.01) : NaN, theirs: b ? b.total / Math.max(b.cpu, 0.01) : null, unit: 'cmd/cpu-s' },
  ];
  log('');
  log(formatTable('dovecot', rows));
  log('');
  log(
    latencyTable(
      (Object.keys((a ?? b)!.byOp) as Op[]).map((op) => ({
        label: `${op} (median per command)`,
        ours: a ? median(a.byOp[op].ms) : null,
        theirs: b ? median(b.byOp[op].ms) : null,
      })),
    ),
  );
}

switch (mode) {
  case 'mix':
    await mix();
    break;
  case 'idle':
    await runIdle({ connections: Number(values.connections), workers: Number(values.workers), wantOurs, wantPeer, log });
    break;
  case 'big':
    await runBig({
      messages: Number(values.messages ?? 100_000),
      workers: Number(values.workers),
      wantOurs,
      wantPeer,
      log,
      // Loaded once, reused by later runs (delete it to reload).
      dir: resolve(values.data ?? `.bench/imap-big-${values.messages ?? 100_000}`),
    });
    break;
  default:
    console.error(`unknown mode ${mode}: mix | idle | big`);
    process.exit(2);
}
process.exit(0);
