/**
 * The two servers an IMAP bench talks to, loaded with the same messages:
 * mailroom as a real child process (`mailroom start`, N workers) over its own
 * SQLite store, and Dovecot from bench/peers (Maildir).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuthenticator } from '../../src/auth/index.js';
import { loadConfig } from '../../src/config/load.js';
import { ingest } from '../../src/store/ingest.js';
import { openStore } from '../../src/store/open.js';
import { spawnMailroom, writeTestConfig } from '../../test/helpers/server.js';
import { loadMaildir, PEER_PASSWORD, PEER_PORTS, peerPids, peersAvailable, peerUser, processTree, startPeers, wipeMailboxes } from '../peers/peers.js';

export interface BenchServer {
  name: string;
  port: number;
  /** Login names and the shared password. */
  users: string[];
  password: string;
  /** PIDs of the server's processes now (for CPU and memory). */
  pids(): number[];
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface LoadSpec {
  users: number;
  /** Messages every user's INBOX holds. */
  messages: Buffer[];
  log?: (s: string) => void;
  /**
   * Keep mailroom's data here and reuse it when it already holds this load
   * (loading 100,000 messages through the durable delivery path takes minutes).
   */
  dir?: string;
}

export async function startMailroomBench(spec: LoadSpec & { workers: number }): Promise<BenchServer> {
  const dir = spec.dir ?? mkdtempSync(join(tmpdir(), 'mailroom-imap-bench-'));
  const stamp = join(dir, 'bench-load.json');
  const want = JSON.stringify({ users: spec.users, messages: spec.messages.length, bytes: spec.messages.reduce((n, m) => n + m.length, 0) });
  const reuse = spec.dir !== undefined && existsSync(stamp) && readFileSync(stamp, 'utf8') === want;
  if (spec.dir !== undefined && !reuse) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }
  const [port, tlsPort] = [await freePort(), await freePort()];
  const cfgPath = await writeTestConfig(dir, {
    workers: spec.workers,
    log: { level: 'info' },
    // Thousands of logins from one loopback address: the brute-force throttle would (rightly) hold them up.
    auth: { plaintext: 'always', maxFailuresPerIp: 100000, maxFailuresPerAccount: 100000 },
    imap: { port, tlsPort },
    smtp: { enabled: false },
    submission: { enabled: false },
    pop3: { enabled: false },
    fetch: { enabled: false },
    queue: { enabled: false },
  });
  const users = Array.from({ length: spec.users }, (_, i) => `bench${i + 1}@example.test`);
  if (!reuse) await loadMailroom(cfgPath, users, spec);
  else spec.log?.(`  mailroom: reusing the data in ${dir}`);
  writeFileSync(stamp, want);

  const proc = await spawnMailroom(cfgPath, { workers: spec.workers, timeoutMs: 60_000 });
  return {
    name: 'mailroom',
    port: proc.port('imap'),
    users,
    password: PEER_PASSWORD,
    pids: () => processTree(proc.pid),
    async stop() {
      proc.kill('SIGTERM');
      await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (spec.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function loadMailroom(cfgPath: string, users: string[], spec: LoadSpec): Promise<void> {
  // Load the store before the server starts: the same path delivery takes (ingest + deliver).
  const loaded = loadConfig({ path: cfgPath, env: {} });
  const store = await openStore(loaded);
  const auth = createAuthenticator({ store, config: loaded.config, secrets: { seal: (s) => s, unseal: (s) => s } });
  await store.addDomain('example.test');
  const creds = await auth.deriveCredentials(PEER_PASSWORD);
  const ids: number[] = [];
  for (const u of users) ids.push((await store.addUser({ login: u, address: u, credentials: creds })).id);
  const t0 = Date.now();
  let n = 0;
  const inflight = 64;
  let next = 0;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (next < spec.messages.length) {
        const raw = spec.messages[next++]!;
        const { blob, index } = await ingest(store.blobs, raw);
        await store.deliver(blob, index, ids.map((userId) => ({ userId })));
        if (++n % 10_000 === 0) spec.log?.(`  mailroom: ${n} messages loaded (${Math.round(n / ((Date.now() - t0) / 1000))}/s)`);
      }
    }),
  );
  await store.close();
}

/**
 * Dovecot users for IMAP benches: user80 downwards, clear of the other benches
 * sharing the peers (POP3 and SMTP take user1.., fetch user98 and user99).
 */
export function dovecotUsers(n: number): string[] {
  if (n > 40) throw new RangeError('the IMAP bench uses at most 40 Dovecot users (user41..user80)');
  return Array.from({ length: n }, (_, i) => peerUser(80 - i));
}

export async function startDovecotBench(spec: LoadSpec): Promise<BenchServer> {
  const ok = peersAvailable();
  if (!ok.ok) throw new Error(`Dovecot peer unavailable: ${ok.reason}`);
  await startPeers(['dovecot']);
  const users = dovecotUsers(spec.users);
  // Dovecot may still be writing index files of a mailbox we remove: try again.
  for (let attempt = 0; ; attempt++) {
    try {
      await wipeMailboxes(users);
      break;
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  await loadMaildir(users, spec.messages);
  return {
    name: 'dovecot',
    port: PEER_PORTS.imap,
    users,
    password: PEER_PASSWORD,
    pids: () => {
      const p = peerPids().dovecot;
      return p ? processTree(p) : [];
    },
    async stop() {
      // The peers stay up (other benches share them); only our mailboxes go.
      await wipeMailboxes(users);
    },
  };
}
