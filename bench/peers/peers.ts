/**
 * The benchmark peers: Dovecot (IMAP 10143, POP3 10110, LMTP 10024) and Postfix
 * (SMTP 10025), configured by bench/peers/setup.sh under PEERS_DIR
 * (default /opt/mailroom-peers). Every bench that compares mailroom with them
 * goes through this file, so its exports are kept stable.
 *
 * Rules it keeps:
 * - Servers are started as their own instances (dovecot -c, postfix -c) and stopped
 *   only through the PIDs in their own pid files; nothing here kills by name.
 * - `start` is idempotent: a peer already running from our pid file is left as is;
 *   a port held by some other process is an error that says so.
 * - Messages are loaded by writing Maildir files directly (LF line ends and the
 *   S=/W= size fields, as Dovecot's own LMTP writes them), hard-linked when the
 *   same message goes to several users; then Dovecot is asked to sync, so a bench
 *   measures serving mail, not first-time indexing.
 *
 *   node --import tsx bench/peers/peers.ts start|stop|restart|status|wipe|pids
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { chown, link, mkdir, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Run a daemon's start command. Its forked servers inherit any pipes we give it and
 * hold them open for as long as they live, so stdio is a log file and we wait for
 * the command's own exit, not for its output to close.
 */
function startDaemon(cmd: string, args: string[], log: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = openSync(log, 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', out, out] });
    closeSync(out);
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}`))));
  });
}

export const PEERS_DIR = process.env.PEERS_DIR ?? '/opt/mailroom-peers';
export const PEER_PORTS = { imap: 10143, pop3: 10110, lmtp: 10024, smtp: 10025 } as const;
export const PEER_HOST = '127.0.0.1';
export const PEER_DOMAIN = 'example.test';
/** Postfix accepts, queues and discards mail for this domain (a raw acceptance path). */
export const PEER_SINK_DOMAIN = 'sink.test';
export const PEER_USER_COUNT = 100;
export const PEER_PASSWORD = 'pass';

export type PeerName = 'dovecot' | 'postfix';

const DOVECOT_CONF = join(PEERS_DIR, 'etc/dovecot/dovecot.conf');
const POSTFIX_DIR = join(PEERS_DIR, 'etc/postfix');
const DOVECOT_PIDFILE = '/run/mailroom-peers/dovecot/master.pid';
const POSTFIX_PIDFILE = join(PEERS_DIR, 'postfix/spool/pid/master.pid');
const MAIL_DIR = join(PEERS_DIR, 'mail');

/** user1..user100 (Dovecot logins; the address is `${peerUser(i)}@example.test`). */
export function peerUser(i: number): string {
  if (!Number.isInteger(i) || i < 1 || i > PEER_USER_COUNT) throw new RangeError(`peer users are 1..${PEER_USER_COUNT}`);
  return `user${i}`;
}

export function peerMaildir(user: string): string {
  return join(MAIL_DIR, user, 'Maildir');
}

/**
 * Whether the peers can run here: binaries installed and setup.sh done, as root
 * (Dovecot and Postfix start as root and drop privileges). Benches and e2e tests
 * use this to skip with a clear reason (never under CI=true).
 */
export function peersAvailable(): { ok: true } | { ok: false; reason: string } {
  for (const bin of ['/usr/sbin/dovecot', '/usr/sbin/postfix']) {
    if (!existsSync(bin)) return { ok: false, reason: `${bin} is not installed (run: sudo bench/peers/setup.sh)` };
  }
  if (!existsSync(DOVECOT_CONF) || !existsSync(join(POSTFIX_DIR, 'main.cf'))) {
    return { ok: false, reason: `peers are not configured under ${PEERS_DIR} (run: sudo bench/peers/setup.sh)` };
  }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'starting the peers needs root' };
  return { ok: true };
}

function pidFrom(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/** Master PIDs of the running peers (null when not running). */
export function peerPids(): Record<PeerName, number | null> {
  return { dovecot: pidFrom(DOVECOT_PIDFILE), postfix: pidFrom(POSTFIX_PIDFILE) };
}

/** A PID and all its descendants (for CPU and memory figures of a multi-process server). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: PEER_HOST, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`peers: ${what} after ${timeoutMs / 1000}s`);
}

const PEER_PORT_LIST: Record<PeerName, number[]> = {
  dovecot: [PEER_PORTS.imap, PEER_PORTS.pop3, PEER_PORTS.lmtp],
  postfix: [PEER_PORTS.smtp],
};

/** Start the peers (both by default); resolves when their ports accept connections. */
export async function startPeers(which: PeerName[] = ['dovecot', 'postfix']): Promise<Record<PeerName, number | null>> {
  const avail = peersAvailable();
  if (!avail.ok) throw new Error(`peers: ${avail.reason}`);
  for (const name of which) {
    if (peerPids()[name]) continue;
    for (const port of PEER_PORT_LIST[name]) {
      if (await portOpen(port)) {
        throw new Error(`peers: port ${port} is held by a process that is not our ${name} (another Dovecot/Postfix instance?)`);
      }
    }
    const [cmd, args]: [string, string[]] =
      name === 'dovecot' ? ['/usr/sbin/dovecot', ['-c', DOVECOT_CONF]] : ['/usr/sbin/postfix', ['-c', POSTFIX_DIR, 'start']];
    await startDaemon(cmd, args, join(PEERS_DIR, 'log/start.log')).catch(async (err: Error) => {
      // Another bench or test may have started it at the same moment: that is fine.
      await new Promise((r) => setTimeout(r, 500));
      if (peerPids()[name]) return;
      throw new Error(`peers: ${name} did not start (${err.message.trim()}); see ${PEERS_DIR}/log/${name}.log and start.log`);
    });
  }
  for (const name of which) {
    for (const port of PEER_PORT_LIST[name]) await waitFor(`${name} port ${port} not listening`, () => portOpen(port), 15000);
  }
  return peerPids();
}

/** Stop the peers through their pid files (SIGTERM, then wait for the master to exit). */
export async function stopPeers(which: PeerName[] = ['postfix', 'dovecot']): Promise<void> {
  for (const name of which) {
    const pid = peerPids()[name];
    if (!pid) continue;
    process.kill(pid, 'SIGTERM');
    await waitFor(`${name} (pid ${pid}) still running`, () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 30000);
  }
}

/** Remove the users' Maildirs (all users by default). Safe while Dovecot runs with no sessions open. */
export async function wipeMailboxes(users?: string[]): Promise<void> {
  const names = users ?? (existsSync(MAIL_DIR) ? readdirSync(MAIL_DIR).filter((n) => /^user\d+$/.test(n)) : []);
  await Promise.all(names.map((u) => rm(join(MAIL_DIR, u), { recursive: true, force: true })));
}

function vmailIds(): { uid: number; gid: number } {
  const st = statSync(MAIL_DIR);
  return { uid: st.uid, gid: st.gid };
}

async function mkdirOwned(dir: string, ids: { uid: number; gid: number }): Promise<void> {
  if (existsSync(dir)) return;
  const parent = join(dir, '..');
  if (parent !== dir) await mkdirOwned(parent, ids);
  await mkdir(dir, { mode: 0o700 });
  await chown(dir, ids.uid, ids.gid);
}

/** Octets of `raw` with every line end made CRLF: Dovecot's "virtual size" (W=). */
function crlfSize(raw: Buffer): number {
  let n = raw.length;
  for (let i = 0; i < raw.length; i++) if (raw[i] === 10 && (i === 0 || raw[i - 1] !== 13)) n++;
  return n;
}

function toLf(raw: Buffer): Buffer {
  return Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
}

export interface LoadOptions {
  /** Folder below INBOX, e.g. "Archive"; INBOX by default. */
  folder?: string;
  /** Mark the messages \Seen (Maildir "S" flag). Default false: new, unread mail. */
  seen?: boolean;
}

/**
 * Put messages into the mailboxes of one or more Dovecot users, in order (UIDs
 * follow the order given). Writes each message once and hard-links it into the
 * other users' Maildirs, then lets Dovecot sync each mailbox.
 */
export async function loadMaildir(users: string | string[], messages: Buffer[], opts: LoadOptions = {}): Promise<void> {
  const list = Array.isArray(users) ? users : [users];
  if (list.length === 0 || messages.length === 0) return;
  const ids = vmailIds();
  const sub = opts.folder && opts.folder !== 'INBOX' ? `.${opts.folder.replace(/\//g, '.')}` : '';
  const dirs = list.map((u) => join(peerMaildir(u), sub));
  for (const d of dirs) {
    for (const s of ['cur', 'new', 'tmp']) await mkdirOwned(join(d, s), ids);
    if (sub) await writeFile(join(d, 'maildirfolder'), '').then(() => chown(join(d, 'maildirfolder'), ids.uid, ids.gid));
  }
  // Names sort in delivery order (Dovecot assigns UIDs to new files in name order).
  const base = Math.floor(Date.now() / 1000) - messages.length;
  const host = hostname().replace(/[/:]/g, '_');
  const flags = opts.seen ? 'S' : '';
  const batch = 64;
  for (let i = 0; i < messages.length; i += batch) {
    await Promise.all(
      messages.slice(i, i + batch).map(async (raw, k) => {
        const n = i + k;
        const lf = toLf(raw);
        const name = `${base + n}.M${String(n).padStart(6, '0')}P${process.pid}.${host},S=${lf.length},W=${crlfSize(raw)}:2,${flags}`;
        const first = join(dirs[0]!, 'cur', name);
        await writeFile(first, lf);
        await chown(first, ids.uid, ids.gid);
        for (const d of dirs.slice(1)) await link(first, join(d, 'cur', name));
      }),
    );
  }
  for (const u of list) await syncMailbox(u, opts.folder ?? 'INBOX');
}

/** Have Dovecot read a mailbox and build its index (so timing starts warm). */
export async function syncMailbox(user: string, folder = 'INBOX'): Promise<{ messages: number }> {
  const { stdout } = await run('/usr/bin/doveadm', ['-c', DOVECOT_CONF, 'mailbox', 'status', '-u', user, 'messages', folder]);
  const m = /messages=(\d+)/.exec(stdout);
  return { messages: m ? Number(m[1]) : 0 };
}

/** Run doveadm against the peers' Dovecot (e.g. ['fetch', '-u', 'user1', 'uid', 'mailbox', 'INBOX']). */
export function doveadm(args: string[]): string {
  return execFileSync('/usr/bin/doveadm', ['-c', DOVECOT_CONF, ...args], { encoding: 'utf8' });
}

// ---------------------------------------------------------------- command line
if (import.meta.url === `file://${process.argv[1]}`) {
  const cmd = process.argv[2] ?? '';
  const status = (): void => {
    const p = peerPids();
    console.log(`dovecot: ${p.dovecot ?? 'not running'}  postfix: ${p.postfix ?? 'not running'}  (${PEERS_DIR})`);
  };
  const main = async (): Promise<void> => {
    switch (cmd) {
      case 'start':
        await startPeers();
        status();
        break;
      case 'stop':
        await stopPeers();
        status();
        break;
      case 'restart':
        await stopPeers();
        await startPeers();
        status();
        break;
      case 'status':
        status();
        break;
      case 'wipe':
        await wipeMailboxes();
        console.log(`wiped ${MAIL_DIR}/user*`);
        break;
      case 'pids': {
        const p = peerPids();
        console.log(`dovecot=${p.dovecot ?? 0} postfix=${p.postfix ?? 0}`);
        break;
      }
      default:
        console.error('usage: peers.ts start|stop|restart|status|wipe|pids');
        process.exit(2);
    }
  };
  main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
