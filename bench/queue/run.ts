/**
 * bench/queue: how fast the outbound queue drains. 10,000 queued messages
 * (2-50 KB, realistic MIME) to 50 remote domains, delivered to an SMTP sink on
 * loopback; messages/s from "go" to the last message acknowledged by the sink.
 * Beside it, in the same run, Postfix relays the same messages to the same
 * sink the same way (its queue filled and held, then released).
 *
 *   node --import tsx bench/queue/run.ts [--count 10000] [--domains 50] [--keep] [--mailroom-only]
 *
 * mailroom: the real store (SQLite + blob directory in a temp dir), the real
 * queue runner, MX lookups against a DNS server on loopback, default limits
 * (5 connections per host, 20 in all, 100 messages per connection).
 * Postfix (Debian's package): an instance of its own in a temp dir, default
 * limits (20 per destination, 100 processes), transport map to the sink.
 * Postfix needs root; without it the bench prints mailroom alone and says why.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { loadConfig } from '../../src/config/load.js';
import { DkimSigner } from '../../src/delivery/dkim.js';
import { ingest } from '../../src/store/ingest.js';
import { createDnsResolver } from '../../src/delivery/outbound/dns.js';
import { startTestDns } from '../../src/delivery/outbound/testing.js';
import { QueueRunner } from '../../src/delivery/queue/runner.js';
import { createRoute } from '../../src/delivery/route.js';
import { openStore } from '../../src/store/open.js';
import { generateCorpus, corpusSummary } from '../peers/corpus.js';
import { postfixAvailable, startPostfix } from './postfix.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const COUNT = opt('count', 10_000);
const DOMAINS = opt('domains', 50);
const KEEP = args.includes('--keep');
const ONLY = args.includes('--mailroom-only');
const here = fileURLToPath(new URL('.', import.meta.url));

interface SinkStats {
  messages: number;
  recipients: number;
  bytes: number;
  current: number;
  max: number;
  total: number;
  first: number;
  last: number;
}

class Sink {
  port = 0;
  private constructor(private readonly child: ChildProcess) {}
  static async start(): Promise<Sink> {
    const child = fork(join(here, 'sink.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const s = new Sink(child);
    s.port = await new Promise<number>((res, rej) => {
      child.once('message', (m: { type: string; port: number }) => (m.type === 'listening' ? res(m.port) : rej(new Error('sink did not start'))));
      child.once('exit', () => rej(new Error('sink exited')));
    });
    return s;
  }
  private ask<T>(type: string): Promise<T> {
    return new Promise((res) => {
      const on = (m: { type: string }) => {
        if (m.type !== type) return;
        this.child.off('message', on);
        res(m as T);
      };
      this.child.on('message', on);
      this.child.send({ type });
    });
  }
  stats = () => this.ask<SinkStats>('stats');
  reset = () => this.ask<unknown>('reset');
  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send({ type: 'stop' });
    await exited;
  }
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function drained(sink: Sink, expected: number, what: string, stallMs = 60_000): Promise<SinkStats> {
  let lastShown = 0;
  let progress = { n: -1, at: Date.now() };
  for (;;) {
    const s = await sink.stats();
    if (s.recipients >= expected) return s;
    if (s.recipients !== progress.n) progress = { n: s.recipients, at: Date.now() };
    if (Date.now() - progress.at > stallMs) throw new Error(`${what}: stuck at ${s.recipients} of ${expected} delivered for ${stallMs / 1000}s`);
    if (Date.now() - lastShown > 5000) {
      process.stderr.write(`  ${what}: ${s.recipients}/${expected} delivered, ${s.current} connections\n`);
      lastShown = Date.now();
    }
    await sleep(100);
  }
}

interface Result {
  name: string;
  seconds: number;
  rate: number;
  maxConnections: number;
  connections: number;
  note: string;
}

const domains = Array.from({ length: DOMAINS }, (_, i) => `d${i + 1}.bench.test`);
const recipientOf = (i: number) => `user${(i % 100) + 1}@${domains[i % DOMAINS]}`;

async function benchMailroom(sink: Sink, msgs: Buffer[]): Promise<Result> {
  const zone = Object.fromEntries(domains.flatMap((d) => [[d, { mx: [{ exchange: `mx.${d}`, priority: 10 }] }], [`mx.${d}`, { a: ['127.0.0.1'] }]]));
  const dns = await startTestDns(zone);
  const dir = mkdtempSync(join(tmpdir(), 'mrq-bench-mailroom-'));
  const loaded = loadConfig({
    overrides: { hostname: 'mailroom.bench.test', dataDir: dir, log: { level: 'warn' }, smtp: { dnsServers: [dns.server] }, queue: { remotePort: sink.port } },
    env: {},
    cwd: dir,
  });
  const store = await openStore(loaded);
  const logger = pino({ level: 'warn' });
  try {
    process.stderr.write(`mailroom: queueing ${msgs.length} messages (ingest + enqueue, fsynced)...\n`);
    const q0 = Date.now();
    for (let i = 0; i < msgs.length; i++) {
      const { blob } = await ingest(store.blobs, msgs[i]!);
      await store.enqueue({ sender: 'bench@mailroom.bench.test', blob, source: 'bench', recipients: [{ address: recipientOf(i) }] });
    }
    const queueSeconds = (Date.now() - q0) / 1000;
    const runner = new QueueRunner({
      store,
      config: loaded.config,
      route: createRoute({ store, config: loaded.config, logger }),
      logger,
      resolver: createDnsResolver([dns.server]),
      dkim: new DkimSigner(store, { seal: (s) => s, unseal: (s) => s }),
    });
    await sink.reset();
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    await runner.start();
    const s = await drained(sink, msgs.length, 'mailroom');
    const seconds = (s.last - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    await runner.stop();
    const left = await store.listQueue({ state: 'active' });
    if (left.length) throw new Error(`mailroom: ${left.length} entries still active after the sink saw everything`);
    return {
      name: 'mailroom',
      seconds,
      rate: msgs.length / seconds,
      maxConnections: s.max,
      connections: s.total,
      note: `queue filled in ${queueSeconds.toFixed(1)} s; CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`,
    };
  } finally {
    await store.close();
    await dns.close();
    if (!KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPostfix(sink: Sink, msgs: Buffer[]): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'mrq-bench-postfix-'));
  const port = await freePort();
  const pf = await startPostfix({ dir, port, domains, sinkPort: sink.port });
  try {
    process.stderr.write(`postfix: queueing ${msgs.length} messages over SMTP (held)...\n`);
    const q0 = Date.now();
    const CLIENTS = 8;
    let next = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        let conn: SMTPConnection | null = null;
        let sent = 0;
        const open = async () => {
          const c = new SMTPConnection({ host: '127.0.0.1', port, ignoreTLS: true, name: 'bench.test' });
          await new Promise<void>((res, rej) => {
            c.once('error', rej);
            c.connect(() => res());
          });
          return c;
        };
        while (next < msgs.length) {
          const i = next++;
          if (!conn || sent >= 100) {
            conn?.quit();
            conn = await open();
            sent = 0;
          }
          await new Promise<void>((res, rej) =>
            conn!.send({ from: 'bench@mailroom.bench.test', to: [recipientOf(i)] }, msgs[i]!, (err) => (err ? rej(err) : res())),
          );
          sent++;
        }
        conn?.quit();
      }),
    );
    for (let i = 0; i < 600 && pf.held() < msgs.length; i++) await sleep(100);
    const queueSeconds = (Date.now() - q0) / 1000;
    if (pf.held() < msgs.length) throw new Error(`postfix: only ${pf.held()} of ${msgs.length} messages in the hold queue`);
    await sink.reset();
    const t0 = Date.now();
    await pf.release();
    const s = await drained(sink, msgs.length, 'postfix');
    const seconds = (s.last - t0) / 1000;
    return {
      name: 'postfix',
      seconds,
      rate: msgs.length / seconds,
      maxConnections: s.max,
      connections: s.total,
      note: `queue filled in ${queueSeconds.toFixed(1)} s`,
    };
  } finally {
    await pf.stop();
    if (!KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const corpus = generateCorpus({ count: COUNT, seed: 42 });
  const sum = corpusSummary(corpus);
  process.stdout.write(
    `bench/queue: ${COUNT} messages (${(sum.totalBytes / 1048576).toFixed(1)} MB, ${sum.min}-${sum.max} bytes, mean ${Math.round(sum.mean)}) ` +
      `to ${DOMAINS} domains, one recipient each, drained to a loopback SMTP sink\n`,
  );
  const msgs = corpus.map((m) => m.raw);
  const sink = await Sink.start();
  const results: Result[] = [];
  try {
    results.push(await benchMailroom(sink, msgs));
    const pf: ReturnType<typeof postfixAvailable> = ONLY ? { ok: false, reason: '--mailroom-only' } : postfixAvailable();
    if (pf.ok) results.push(await benchPostfix(sink, msgs));
    else process.stdout.write(`postfix: not run (${pf.reason})\n`);
  } finally {
    await sink.stop();
  }
  const pad = (s: string, n: number) => s.padEnd(n);
  process.stdout.write(`\n${pad('sender', 10)}${pad('seconds', 10)}${pad('msg/s', 10)}${pad('max conns', 11)}${pad('conns', 8)}notes\n`);
  for (const r of results) {
    process.stdout.write(`${pad(r.name, 10)}${pad(r.seconds.toFixed(2), 10)}${pad(r.rate.toFixed(0), 10)}${pad(String(r.maxConnections), 11)}${pad(String(r.connections), 8)}${r.note}\n`);
  }
  const [m, p] = results;
  if (m && p) process.stdout.write(`\nmailroom / postfix: ${(m.rate / p.rate).toFixed(2)}x\n`);
}

await main();
