/**
 * Test harness: a real mailroom (real SQLite in a temp dir, real TLS, real
 * sockets on 127.0.0.1 with ephemeral ports), in-process or as a child process.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'smol-toml';
import type { Authenticator } from '../../src/auth/types.js';
import { deepMerge, loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { ingest } from '../../src/store/ingest.js';
import type { Recipients, Route } from '../../src/delivery/types.js';
import { generateSelfSigned } from '../../src/net/tls.js';
import type { ListenerInfo } from '../../src/service.js';
import { startServer } from '../../src/server.js';
import type { Store, User } from '../../src/store/types.js';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** tsx's loader as a URL, so child processes find it whatever their working directory. */
export const TSX = import.meta.resolve('tsx');

let certPromise: Promise<{ cert: string; key: string }> | null = null;
/** One self-signed certificate per test process (generation is not free). */
export function testCertificate(): Promise<{ cert: string; key: string }> {
  certPromise ??= generateSelfSigned('mail.test');
  return certPromise;
}

export interface TestServer {
  dataDir: string;
  config: Config;
  store: Store;
  auth: Authenticator;
  route: Route;
  recipients: Recipients;
  listeners(): ListenerInfo[];
  port(service: string, tls?: 'none' | 'starttls' | 'implicit'): number;
  addUser(address: string, password: string, opts?: { quota?: number; login?: string }): Promise<User>;
  deliver(to: string, raw: string | Buffer, from?: string): Promise<void>;
  tls: { cert: string; key: string };
  stop(): Promise<void>;
}

/** Config every test server starts from: ephemeral ports, quiet logs, one process. */
export function baseTestConfig(dataDir: string): Record<string, unknown> {
  return {
    hostname: 'mail.test',
    dataDir,
    workers: 1,
    log: { level: process.env.TEST_LOG ?? 'silent' },
    smtp: { port: 0, authenticate: false },
    submission: { port: 0, tlsPort: 0 },
    pop3: { port: 0, tlsPort: 0 },
    imap: { port: 0, tlsPort: 0 },
    web: { port: 0 },
  };
}

async function writeCert(dataDir: string): Promise<{ cert: string; key: string }> {
  const pems = await testCertificate();
  mkdirSync(join(dataDir, 'tls'), { recursive: true });
  writeFileSync(join(dataDir, 'tls', 'cert.pem'), pems.cert);
  writeFileSync(join(dataDir, 'tls', 'key.pem'), pems.key, { mode: 0o600 });
  return pems;
}

export function findPort(listeners: ListenerInfo[], service: string, tls?: 'none' | 'starttls' | 'implicit'): number {
  const l = listeners.find((x) => x.name === service && (tls ? x.tls === tls : x.tls !== 'implicit'));
  if (!l) throw new Error(`no ${service} listener${tls ? ` with tls=${tls}` : ''}; listeners: ${JSON.stringify(listeners)}`);
  return l.port;
}

export async function startTestServer(overrides: Record<string, unknown> = {}, opts: { services?: string[] } = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mailroom-test-'));
  const tls = await writeCert(dataDir);
  const loaded = loadConfig({ overrides: deepMerge(baseTestConfig(dataDir), overrides), env: {}, cwd: dataDir });
  const server = await startServer(loaded, { services: opts.services, runsJobs: true });
  const { store, auth, route } = server;
  return {
    dataDir,
    config: loaded.config,
    store,
    auth,
    route,
    recipients: server.context.recipients,
    tls,
    listeners: () => server.listeners(),
    port: (service, t) => findPort(server.listeners(), service, t),
    async addUser(address, password, o = {}) {
      const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
      if (!(await store.getDomain(domain))) await store.addDomain(domain);
      return store.addUser({ login: o.login ?? address, address, quota: o.quota ?? 0, credentials: await auth.deriveCredentials(password) });
    },
    async deliver(to, raw, from = 'sender@example.com') {
      const { blob, index } = await ingest(store.blobs, Buffer.isBuffer(raw) ? raw : Buffer.from(raw));
      const result = await route({ mailFrom: from, rcptTo: [{ address: to }], source: 'local' }, blob, index);
      const failed = result.recipients.filter((r) => r.status === 'failed');
      if (failed.length) throw new Error(`delivery to ${to} failed: ${JSON.stringify(failed)}`);
    },
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
function snakeKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(snakeKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [snake(k), snakeKeys(x)]));
  return v;
}

/** A port that was free a moment ago (the kernel's pick for port 0). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/**
 * Write a mailroom.toml (from camelCase overrides on top of the test base) and a
 * certificate into dir. Listeners get explicit free ports, not 0: under
 * node:cluster every port-0 listener of a worker would share one handle.
 */
export async function writeTestConfig(dir: string, overrides: Record<string, unknown> = {}): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  await writeCert(dataDir);
  const path = join(dir, 'mailroom.toml');
  const ports = {
    smtp: { port: await freePort() },
    submission: { port: await freePort(), tlsPort: await freePort() },
    pop3: { port: await freePort(), tlsPort: await freePort() },
    imap: { port: await freePort(), tlsPort: await freePort() },
    web: { port: await freePort() },
  };
  writeFileSync(path, stringify(snakeKeys(deepMerge(deepMerge(baseTestConfig(dataDir), ports), overrides)) as Record<string, unknown>));
  return path;
}

export interface SpawnedMailroom {
  pid: number;
  listeners: ListenerInfo[];
  port(service: string, tls?: 'none' | 'starttls' | 'implicit'): number;
  kill(sig?: NodeJS.Signals): void;
  exited: Promise<number | null>;
  /** Everything the process printed so far. */
  output(): string;
}

/**
 * Start `mailroom start --config PATH` as a real child process and wait for its
 * "ready" log line (the config's log level must be info or lower: writeTestConfig
 * sets it from TEST_LOG, so pass { log: { level: 'info' } } in its overrides).
 */
export async function spawnMailroom(configPath: string, opts: { timeoutMs?: number; workers?: number } = {}): Promise<SpawnedMailroom> {
  const args = ['--import', TSX, join(ROOT, 'src/cli/main.ts'), 'start', '--config', configPath];
  if (opts.workers !== undefined) args.push('--workers', String(opts.workers));
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MAILROOM_CONFIG: '' } });
  let out = '';
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const listeners = await new Promise<ListenerInfo[]>((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // never leave a half-started server behind
      rej(new Error(`mailroom did not become ready in time; output:\n${out}`));
    }, opts.timeoutMs ?? 60_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const rec = JSON.parse(line) as { msg?: string; listeners?: ListenerInfo[] };
          if (rec.msg === 'ready' && rec.listeners) {
            clearTimeout(timer);
            return res(rec.listeners);
          }
        } catch {
          /* partial line */
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`mailroom exited (${code}) before it was ready; output:\n${out}`));
    });
  });
  return {
    pid: child.pid!,
    listeners,
    port: (service, t) => findPort(listeners, service, t),
    kill: (sig = 'SIGTERM') => child.kill(sig),
    exited,
    output: () => out,
  };
}
