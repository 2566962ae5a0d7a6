/**
 * bench/fetch: the first poll of a big POP3 mailbox, mailroom beside fetchmail.
 *
 * Both fetch the same N messages (default 5,000, the realistic corpus of
 * bench/peers/corpus.ts) from the same Dovecot POP3 mailbox on loopback, in
 * "keep" mode with UIDL tracking, into a mailbox of the same kind: a mail
 * server's durable, indexed store that IMAP can serve at once.
 *
 *   mailroom:  pollAccount() (what `mailroom fetch run` and the scheduler run)
 *              → ingest (blob, fsync) → route() → SQLite store; seen ids kept.
 *   fetchmail: fetchmail --uidl --keep → LMTP → Dovecot (Maildir + index,
 *              fsynced); seen ids in its idfile.
 *
 * Each round starts cold for both: a fresh mailroom data directory, a fresh
 * fetchmail idfile and an empty Dovecot destination mailbox. Rounds alternate
 * which goes first; the medians and their ratio are printed.
 *
 *   node --import tsx bench/fetch/run.ts [--count 5000] [--rounds 3] [--seed 42]
 *        [--source user99] [--dest user98] [--json results.json]
 *
 * Needs the peers (sudo bench/peers/setup.sh) and fetchmail (apt-get install fetchmail).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createSecrets } from '../../src/auth/secrets.js';
import { loadConfig } from '../../src/config/load.js';
import { createRecipients, createRoute } from '../../src/delivery/route.js';
import { pollAccount } from '../../src/fetch/poller.js';
import { openStore } from '../../src/store/open.js';
import { corpusSummary, generateCorpus } from '../peers/corpus.js';
import { PEER_DOMAIN, PEER_PASSWORD, PEER_PORTS, doveadm, loadMaildir, peersAvailable, startPeers, syncMailbox, wipeMailboxes } from '../peers/peers.js';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '3' },
    seed: { type: 'string', default: '42' },
    source: { type: 'string', default: 'user99' },
    dest: { type: 'string', default: 'user98' },
    json: { type: 'string' },
  },
});
const COUNT = Number(args.count);
const ROUNDS = Number(args.rounds);
const FETCHMAIL = '/usr/bin/fetchmail';

interface Run {
  who: 'mailroom' | 'fetchmail';
  round: number;
  seconds: number;
  /** CPU seconds of the fetching process (user + system). */
  cpu: number | null;
  messages: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function mailroomRound(round: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-fetch-mailroom-'));
  try {
    const loaded = loadConfig({ overrides: { dataDir: dir, hostname: 'mail.bench.test', log: { level: 'silent' } }, env: {}, cwd: dir });
    const store = await openStore(loaded);
    const logger = pino({ level: 'silent' });
    const route = createRoute({ store, config: loaded.config, logger });
    const secrets = createSecrets(randomBytes(32));
    await store.addDomain('bench.test');
    const user = await store.addUser({ login: 'office@bench.test', address: 'office@bench.test', credentials: { passwordHash: 'unused', scramSha256: null, sealedSecret: null } });
    const account = await store.addExternalAccount({
      name: 'dovecot',
      protocol: 'pop3',
      host: '127.0.0.1',
      port: PEER_PORTS.pop3,
      tls: 'none',
      username: args.source!,
      sealedPassword: secrets.seal(PEER_PASSWORD),
      interval: 3600,
      folders: [],
      keep: 'keep',
      deleteAfterDays: 0,
      mode: 'single',
      targetUserId: user.id,
      enabled: true,
    });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await pollAccount(account, { store, route, recipients: createRecipients(store, loaded.config), config: loaded.config, secrets, logger });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    if (r.error) throw new Error(`mailroom poll failed: ${r.error.summary}`);
    const inbox = await store.getMailbox(user.id, 'INBOX');
    const messages = (await store.mailboxStatus(inbox!.id)).messages;
    await store.close();
    return { who: 'mailroom', round, seconds, cpu: (cpu.user + cpu.system) / 1e6, messages };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function fetchmailRound(round: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-fetch-fetchmail-'));
  try {
    await wipeMailboxes([args.dest!]);
    const rc = join(dir, 'fetchmailrc');
    writeFileSync(
      rc,
      [
        'set no bouncemail',
        'set no syslog',
        `poll 127.0.0.1 port ${PEER_PORTS.pop3} proto pop3 uidl`,
        // sslproto '': plain POP3 like mailroom's side (the Dovecot peer runs without TLS).
        `  user "${args.source}" password "${PEER_PASSWORD}" is "${args.dest}" here sslproto ''`,
        `  keep smtphost "127.0.0.1/${PEER_PORTS.lmtp}" lmtp smtpname "${args.dest}@${PEER_DOMAIN}"`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const t0 = performance.now();
    const { code, stderr, cpu } = await runTimed(FETCHMAIL, ['-f', rc, '--idfile', join(dir, 'ids'), '--pidfile', join(dir, 'pid'), '--nosyslog', '--silent'], { HOME: dir });
    const seconds = (performance.now() - t0) / 1000;
    // fetchmail: 0 = mail retrieved, 1 = no mail.
    if (code !== 0) throw new Error(`fetchmail exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const { messages } = await syncMailbox(args.dest!);
    return { who: 'fetchmail', round, seconds, cpu, messages };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a program; its CPU time comes from /proc before it is reaped is not portable, so use getrusage via `time -f`. */
function runTimed(cmd: string, argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string; cpu: number | null }> {
  const useTime = existsSync('/usr/bin/time');
  const [prog, progArgs] = useTime ? ['/usr/bin/time', ['-f', 'CPU %U %S', cmd, ...argv]] : [cmd, argv];
  return new Promise((resolve, reject) => {
    const child = spawn(prog, progArgs, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
      resolve({ code, stderr, cpu: m ? Number(m[1]) + Number(m[2]) : null });
    });
  });
}

async function main(): Promise<void> {
  const avail = peersAvailable();
  if (!avail.ok) throw new Error(`bench/fetch needs the Dovecot peer: ${avail.reason}`);
  if (!existsSync(FETCHMAIL)) throw new Error(`bench/fetch needs ${FETCHMAIL} (apt-get install fetchmail)`);
  await startPeers(['dovecot']);

  const corpus = generateCorpus({ count: COUNT, seed: Number(args.seed) });
  const summary = corpusSummary(corpus);
  console.log(`corpus: ${summary.count} messages, ${(summary.totalBytes / 1e6).toFixed(1)} MB (mean ${(summary.mean / 1024).toFixed(1)} KB); ${cpus().length} CPU(s)`);
  await wipeMailboxes([args.source!, args.dest!]);
  await loadMaildir(args.source!, corpus.map((m) => m.raw));
  const remote = Number(/messages=(\d+)/.exec(doveadm(['mailbox', 'status', '-u', args.source!, 'messages', 'INBOX']))?.[1]);
  if (remote !== COUNT) throw new Error(`Dovecot holds ${remote} messages for ${args.source}, expected ${COUNT}`);

  const runs: Run[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 ? [mailroomRound, fetchmailRound] : [fetchmailRound, mailroomRound];
    for (const fn of order) {
      const r = await fn(round);
      if (r.messages !== COUNT) throw new Error(`${r.who} delivered ${r.messages} of ${COUNT} messages in round ${round}`);
      runs.push(r);
      console.log(`round ${round}  ${r.who.padEnd(9)}  ${r.seconds.toFixed(2).padStart(7)} s  ${(COUNT / r.seconds).toFixed(0).padStart(5)} msg/s  cpu ${r.cpu === null ? '?' : r.cpu.toFixed(2) + ' s'}`);
    }
  }
  await wipeMailboxes([args.dest!]);

  const m = median(runs.filter((r) => r.who === 'mailroom').map((r) => r.seconds));
  const f = median(runs.filter((r) => r.who === 'fetchmail').map((r) => r.seconds));
  console.log('');
  console.log(`median  mailroom   ${m.toFixed(2)} s  (${(COUNT / m).toFixed(0)} msg/s, ${(summary.totalBytes / 1e6 / m).toFixed(1)} MB/s)`);
  console.log(`median  fetchmail  ${f.toFixed(2)} s  (${(COUNT / f).toFixed(0)} msg/s, ${(summary.totalBytes / 1e6 / f).toFixed(1)} MB/s)`);
  console.log(`mailroom takes ${(m / f).toFixed(2)}x the time of fetchmail -> Dovecot LMTP`);
  if (args.json) writeFileSync(args.json, JSON.stringify({ date: new Date().toISOString(), count: COUNT, bytes: summary.totalBytes, runs, median: { mailroom: m, fetchmail: f } }, null, 2) + '\n');
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
