/**
 * bench/smtp: inbound SMTP delivery, mailroom beside Postfix → Dovecot LMTP.
 *
 * N parallel clients send M messages of about 10 KB to local users over SMTP on
 * loopback. Measured: messages per second from the first byte sent to the last
 * message fsynced in a mailbox.
 * - mailroom answers 250 only after the message is fsynced into the store and
 *   the mailbox rows are committed, so the clock stops at the last 250.
 * - Postfix answers 250 once the message is in its queue (fsynced); delivery
 *   to the mailbox (Postfix lmtp → Dovecot LMTP → Maildir, fsynced by Dovecot's
 *   default mail_fsync=optimized) happens after that, so the clock stops when
 *   the last message file appears in the users' Maildirs.
 * Both run on this machine, in the same run, each round alternating who goes
 * first; medians are reported. mailroom runs as `mailroom start` (a child
 * process, `--workers`, default one per core like production), with SPF/DKIM
 * checks off, since the Postfix peer does none.
 *
 *   node --import tsx bench/smtp/run.ts [--clients 10] [--messages 2000] [--size 10240] [--rounds 3] [--users 10] [--workers 0] [--threadpool 32]
 *
 * Needs the peers (bench/peers/setup.sh, as root); without them it measures
 * mailroom alone and says why.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/open.js';
import { PEER_DOMAIN, PEER_PORTS, peerMaildir, peersAvailable, peerUser, startPeers, wipeMailboxes } from '../peers/peers.js';
import { benchMessage, sendAll } from './client.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} takes a number`);
  return v;
}

const CLIENTS = arg('clients', 10);
const MESSAGES = arg('messages', 2000);
const SIZE = arg('size', 10 * 1024);
const ROUNDS = arg('rounds', 3);
const USERS = Math.min(arg('users', 10), 100);
const WORKERS = arg('workers', 0);
/** libuv threads of the mailroom process: blob writes are fsync-bound and run there (Node's default is 4). */
const THREADPOOL = arg('threadpool', Number(process.env.UV_THREADPOOL_SIZE ?? 32));

const rcpt = (i: number) => `${peerUser((i % USERS) + 1)}@${PEER_DOMAIN}`;
const bodies = new Map<string, Buffer>();
const body = (i: number) => {
  // The message text differs per message only in a few bytes; build each once.
  const key = `${i}`;
  let b = bodies.get(key);
  if (!b) {
    b = benchMessage(i, rcpt(i), SIZE);
    bodies.set(key, b);
  }
  return b;
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// ------------------------------------------------------------------ mailroom

interface Mailroom {
  port: number;
  stop(): Promise<void>;
  messages(): Promise<number>;
}

async function startMailroom(): Promise<Mailroom> {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-bench-smtp-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const configPath = join(dir, 'mailroom.toml');
  writeFileSync(
    configPath,
    [
      'hostname = "bench.test"',
      `data_dir = ${JSON.stringify(dataDir)}`,
      `workers = ${WORKERS}`,
      '[log]',
      'level = "info"',
      '[smtp]',
      'port = 0',
      'authenticate = false',
      'max_connections_per_ip = 10000',
      'max_recipients = 1000',
      '[submission]',
      'enabled = false',
      '[pop3]',
      'enabled = false',
      '[imap]',
      'enabled = false',
      '[web]',
      'enabled = false',
      '[fetch]',
      'enabled = false',
      '[queue]',
      'enabled = false',
      '',
    ].join('\n'),
  );
  const loaded = loadConfig({ path: configPath });
  const store = await openStore(loaded);
  const hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA';
  await store.addDomain(PEER_DOMAIN);
  const ids: number[] = [];
  for (let u = 1; u <= USERS; u++) {
    const address = `${peerUser(u)}@${PEER_DOMAIN}`;
    ids.push((await store.addUser({ login: address, address, credentials: { passwordHash: hash, scramSha256: null, sealedSecret: null } })).id);
  }
  await store.close();

  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'start', '--config', configPath], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, UV_THREADPOOL_SIZE: String(THREADPOOL) },
  });
  let out = '';
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`mailroom did not start:\n${out}`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"msg":"ready"/.test(out) ? /\{[^\n]*"msg":"ready"[^\n]*\}/.exec(out) : null;
      if (m) {
        clearTimeout(timer);
        const rec = JSON.parse(m[0]) as { listeners: Array<{ name: string; port: number }> };
        resolvePort(rec.listeners.find((l) => l.name === 'smtp')!.port);
      }
      if (out.length > 1_000_000) out = out.slice(-100_000);
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => reject(new Error(`mailroom exited (${code}):\n${out}`)));
  });
  return {
    port,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
    async messages() {
      const s = await openStore(loadConfig({ path: configPath }));
      try {
        let n = 0;
        for (const id of ids) {
          const mb = await s.getMailbox(id, 'INBOX');
          n += (await s.mailboxStatus(mb!.id)).messages;
        }
        return n;
      } finally {
        await s.close();
      }
    },
  };
}

async function roundMailroom(m: Mailroom): Promise<number> {
  const before = await m.messages();
  const r = await sendAll({ port: m.port, clients: CLIENTS, messages: MESSAGES, rcpt, body });
  const after = await m.messages();
  if (after - before !== MESSAGES) throw new Error(`mailroom: ${after - before} of ${MESSAGES} messages in the mailboxes after their 250s`);
  return (MESSAGES / r.elapsedMs) * 1000;
}

// ------------------------------------------------------------------ postfix → dovecot

function maildirCount(): number {
  let n = 0;
  for (let u = 1; u <= USERS; u++) {
    for (const sub of ['new', 'cur']) {
      const d = join(peerMaildir(peerUser(u)), sub);
      if (existsSync(d)) n += readdirSync(d).length;
    }
  }
  return n;
}

async function roundPostfix(): Promise<number> {
  await wipeMailboxes(Array.from({ length: USERS }, (_, u) => peerUser(u + 1)));
  const r = await sendAll({ port: PEER_PORTS.smtp, clients: CLIENTS, messages: MESSAGES, rcpt, body });
  const deadline = Date.now() + 600_000;
  let n = 0;
  while ((n = maildirCount()) < MESSAGES) {
    if (Date.now() > deadline) throw new Error(`postfix: only ${n} of ${MESSAGES} delivered after 10 minutes`);
    await new Promise((res) => setTimeout(res, 10));
  }
  const elapsed = performance.now() - r.firstByteAt;
  return (MESSAGES / elapsed) * 1000;
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const peers = peersAvailable();
  console.log(
    `bench/smtp: ${MESSAGES} messages of ${SIZE} bytes to ${USERS} local users, ${CLIENTS} parallel clients, ${ROUNDS} rounds, ` +
      `mailroom workers=${WORKERS || cpus().length}${WORKERS ? '' : ' (one per core)'} UV_THREADPOOL_SIZE=${THREADPOOL}, ${cpus().length} cores`,
  );
  if (peers.ok) await startPeers(['dovecot', 'postfix']);
  else console.log(`peers unavailable (${peers.reason}): measuring mailroom alone`);

  const m = await startMailroom();
  const ours: number[] = [];
  const theirs: number[] = [];
  try {
    // A short warm-up on each side (JIT, page cache, Postfix processes), not counted.
    await sendAll({ port: m.port, clients: CLIENTS, messages: Math.min(200, MESSAGES), rcpt, body });
    if (peers.ok) {
      await wipeMailboxes(Array.from({ length: USERS }, (_, u) => peerUser(u + 1)));
      const warm = Math.min(200, MESSAGES);
      await sendAll({ port: PEER_PORTS.smtp, clients: CLIENTS, messages: warm, rcpt, body });
      const until = Date.now() + 120_000;
      while (maildirCount() < warm && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
    }
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['mailroom', 'postfix'] : ['postfix', 'mailroom'];
      for (const who of order) {
        if (who === 'mailroom') ours.push(await roundMailroom(m));
        else if (peers.ok) theirs.push(await roundPostfix());
      }
      console.log(`round ${round + 1}: mailroom ${ours.at(-1)!.toFixed(0)} msg/s${peers.ok ? `, postfix+dovecot ${theirs.at(-1)!.toFixed(0)} msg/s` : ''}`);
    }
  } finally {
    await m.stop();
    if (peers.ok) await wipeMailboxes(Array.from({ length: USERS }, (_, u) => peerUser(u + 1)));
  }
  const a = median(ours);
  console.log('');
  console.log(`mailroom (SMTP → fsynced in mailbox, 250 after commit):      ${a.toFixed(0).padStart(6)} msg/s`);
  if (peers.ok) {
    const b = median(theirs);
    console.log(`postfix → dovecot LMTP (SMTP → fsynced in Maildir):          ${b.toFixed(0).padStart(6)} msg/s`);
    console.log(`ratio mailroom / postfix+dovecot:                             ${(a / b).toFixed(2).padStart(6)}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
