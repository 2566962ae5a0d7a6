/**
 * POP3 retrieval: mailroom beside Dovecot's POP3, same messages, same client,
 * same run.
 *
 * Each server holds the same deterministic corpus (bench/peers/corpus.ts,
 * 1,000 messages of 2-50 KB by default) in the INBOX of `clients` users. A
 * scenario logs in and RETRs every message, then QUITs without deleting:
 *   single   - one client, one user
 *   parallel - `clients` clients at once, each on its own user
 * Rounds alternate between the servers; the medians are printed side by side
 * with the ratio (mailroom / Dovecot; above 1 means mailroom is faster).
 *
 *   node --import tsx bench/pop3/run.ts [--rounds 5] [--messages 1000] [--clients 20] [--workers N] [--json FILE]
 *
 * mailroom runs as a child process (`mailroom start`, `workers` as configured:
 * default one per core, like Dovecot's processes) on a temp data directory;
 * Dovecot runs from bench/peers (needs root and bench/peers/setup.sh). Without
 * Dovecot, mailroom's figures are printed alone, with the reason.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { ingest } from '../../src/store/ingest.js';
import { startServer } from '../../src/server.js';
import { spawnMailroom, writeTestConfig, type SpawnedMailroom } from '../../test/helpers/server.js';
import { corpusSummary, generateCorpus } from '../peers/corpus.js';
import { loadMaildir, peerPids, peersAvailable, peerUser, processTree, PEER_PASSWORD, PEER_PORTS, startPeers, wipeMailboxes } from '../peers/peers.js';
import { cpuSeconds, formatTable, median } from '../peers/stats.js';
import { retrieveAll, type RetrieveResult } from './client.js';

interface Options {
  rounds: number;
  messages: number;
  clients: number;
  workers: number | undefined;
  seed: number;
  json: string | null;
}

function parseArgs(argv: string[]): Options {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, def: number) => {
    const v = get(name);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes a positive integer`);
    return n;
  };
  return {
    rounds: num('rounds', 5),
    messages: num('messages', 1000),
    clients: num('clients', 20),
    workers: get('workers') === undefined ? undefined : num('workers', 1),
    seed: num('seed', 42),
    json: get('json') ?? null,
  };
}

interface Target {
  name: 'mailroom' | 'dovecot';
  port: number;
  user(i: number): string;
  password: string;
  pids(): number[];
}

interface Sample {
  msgsPerSec: number;
  mbPerSec: number;
  ms: number;
  cpu: number;
  /** Median time to log in (connect, greeting, USER, PASS) over the clients. */
  loginMs: number;
}

async function scenario(t: Target, clients: number, expected: number): Promise<Sample> {
  const cpu0 = cpuSeconds(t.pids());
  const t0 = performance.now();
  const results: RetrieveResult[] = await Promise.all(
    Array.from({ length: clients }, (_, i) => retrieveAll(t.port, t.user(i + 1), t.password)),
  );
  const ms = performance.now() - t0;
  const cpu = cpuSeconds(t.pids()) - cpu0;
  for (const r of results) {
    if (r.messages !== expected) throw new Error(`${t.name}: a client saw ${r.messages} messages, expected ${expected}`);
  }
  const msgs = results.reduce((a, r) => a + r.messages, 0);
  const bytes = results.reduce((a, r) => a + r.bytes, 0);
  return { msgsPerSec: msgs / (ms / 1000), mbPerSec: bytes / 1e6 / (ms / 1000), ms, cpu, loginMs: median(results.map((r) => r.loginMs)) };
}

/** A mailroom with `users` users, each holding the whole corpus; returned running as a child process. */
async function prepareMailroom(dir: string, raws: Buffer[], users: number, workers: number | undefined): Promise<{ child: SpawnedMailroom; user(i: number): string }> {
  const configPath = await writeTestConfig(dir, {
    log: { level: 'info' },
    // the bench logs in from loopback many times; the peer has no throttling either
    auth: { maxFailuresPerIp: 100000, maxFailuresPerAccount: 100000 },
    ...(workers === undefined ? { workers: 0 } : { workers }),
  });
  const loaded = loadConfig({ path: configPath, env: {}, cwd: dir });
  const prep = await startServer(loaded, { services: [], runsJobs: false, logger: pino({ level: 'silent' }) });
  const user = (i: number) => `bench${i}@example.test`;
  await prep.store.addDomain('example.test');
  const creds = await prep.auth.deriveCredentials(PEER_PASSWORD);
  for (let i = 1; i <= users; i++) await prep.store.addUser({ login: user(i), address: user(i), credentials: creds });
  const rcptTo = Array.from({ length: users }, (_, i) => ({ address: user(i + 1) }));
  // Real deliveries (blob fsync, index, one store transaction for all users), several
  // at a time so the fsyncs overlap; UIDs follow completion order, which is fine here.
  let next = 0;
  const deliverOne = async (): Promise<void> => {
    for (let i = next++; i < raws.length; i = next++) {
      const { blob, index } = await ingest(prep.store.blobs, raws[i]!);
      const r = await prep.route({ mailFrom: 'bench@example.com', rcptTo, source: 'local' }, blob, index);
      const failed = r.recipients.filter((x) => x.status !== 'delivered');
      if (failed.length) throw new Error(`loading mailroom: ${JSON.stringify(failed[0])}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, deliverOne));
  // The SQLite store builds its search index in the background; finish it now so the
  // child process does not spend the timed rounds indexing (Dovecot has no FTS here).
  const store = prep.store as typeof prep.store & { indexSearchText?: () => Promise<number> };
  if (store.indexSearchText) await store.indexSearchText();
  await prep.stop();
  const child = await spawnMailroom(configPath, { timeoutMs: 180_000, ...(workers === undefined ? {} : { workers }) });
  return { child, user };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const corpus = generateCorpus({ count: o.messages, seed: o.seed });
  const raws = corpus.map((m) => m.raw);
  const summary = corpusSummary(corpus);
  console.log(
    `corpus: ${summary.count} messages, ${(summary.totalBytes / 1e6).toFixed(1)} MB (mean ${summary.mean} B, ${summary.min}-${summary.max}); ` +
      `${o.clients} users each; ${o.rounds} rounds`,
  );

  const dir = mkdtempSync(join(tmpdir(), 'mailroom-bench-pop3-'));
  let child: SpawnedMailroom | null = null;
  try {
    const t0 = performance.now();
    const mr = await prepareMailroom(dir, raws, o.clients, o.workers);
    child = mr.child;
    console.log(`mailroom: loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s, pid ${child.pid}, port ${child.port('pop3')}`);
    const targets: Target[] = [
      { name: 'mailroom', port: child.port('pop3'), user: mr.user, password: PEER_PASSWORD, pids: () => processTree(child!.pid) },
    ];

    const avail = peersAvailable();
    if (avail.ok) {
      const users = Array.from({ length: o.clients }, (_, i) => peerUser(i + 1));
      await startPeers(['dovecot']);
      await wipeMailboxes(users);
      const t1 = performance.now();
      await loadMaildir(users, raws);
      console.log(`dovecot: loaded in ${((performance.now() - t1) / 1000).toFixed(1)} s, pid ${peerPids().dovecot}, port ${PEER_PORTS.pop3}`);
      targets.push({ name: 'dovecot', port: PEER_PORTS.pop3, user: peerUser, password: PEER_PASSWORD, pids: () => processTree(peerPids().dovecot ?? 0) });
    } else {
      console.log(`dovecot: not run (${avail.reason})`);
    }

    // A warm-up pass each, not counted: first reads of files and indexes, the JIT
    // (every mailroom worker process), and the first RETR's \Seen flags.
    for (const t of targets) await scenario(t, o.clients, o.messages);

    const samples = new Map<string, Sample[]>();
    const add = (key: string, s: Sample) => samples.set(key, [...(samples.get(key) ?? []), s]);
    for (let r = 1; r <= o.rounds; r++) {
      // Alternate which server goes first, so neither always gets the warmer machine.
      const order = r % 2 ? targets : [...targets].reverse();
      for (const t of order) {
        const single = await scenario(t, 1, o.messages);
        add(`${t.name}/single`, single);
        const parallel = await scenario(t, o.clients, o.messages);
        add(`${t.name}/parallel`, parallel);
        console.log(
          `round ${r} ${t.name.padEnd(8)}  single ${single.msgsPerSec.toFixed(0)} msg/s ${single.mbPerSec.toFixed(1)} MB/s` +
            `   ${o.clients} parallel ${parallel.msgsPerSec.toFixed(0)} msg/s ${parallel.mbPerSec.toFixed(1)} MB/s (server cpu ${parallel.cpu.toFixed(1)} s)`,
        );
      }
    }

    const med = (key: string, f: (s: Sample) => number): number | null => {
      const xs = samples.get(key);
      return xs ? median(xs.map(f)) : null;
    };
    const rows = [
      { label: 'single client', unit: 'msg/s', f: (s: Sample) => s.msgsPerSec, key: 'single' },
      { label: 'single client', unit: 'MB/s', f: (s: Sample) => s.mbPerSec, key: 'single' },
      { label: `${o.clients} parallel clients`, unit: 'msg/s', f: (s: Sample) => s.msgsPerSec, key: 'parallel' },
      { label: `${o.clients} parallel clients`, unit: 'MB/s', f: (s: Sample) => s.mbPerSec, key: 'parallel' },
      { label: `${o.clients} parallel, server CPU`, unit: 's', f: (s: Sample) => s.cpu, key: 'parallel' },
      { label: 'single client, login', unit: 'ms', f: (s: Sample) => s.loginMs, key: 'single' },
    ].map((x) => ({ label: x.label, unit: x.unit, ours: med(`mailroom/${x.key}`, x.f)!, theirs: med(`dovecot/${x.key}`, x.f) }));
    console.log(`\nPOP3 full retrieval, medians of ${o.rounds} rounds (ratio = mailroom / Dovecot)`);
    console.log(formatTable('dovecot', rows));
    console.log(
      '(for rates a ratio above 1 means mailroom is faster; for CPU and login time, below 1. mailroom checks an\n' +
        " argon2id password hash at every login; the peer's passwords are stored in plain text, as in its setup.)",
    );
    if (o.json) writeFileSync(o.json, JSON.stringify({ options: o, corpus: summary, rows, samples: Object.fromEntries(samples) }, null, 1));
  } finally {
    if (child) {
      child.kill('SIGTERM');
      await child.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
