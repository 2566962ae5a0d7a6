/**
 * A Postfix instance of the queue bench's own (Debian's postfix package),
 * configured in a fresh directory for one run: it accepts the bench's
 * messages on 127.0.0.1 from the bench only, holds them (access action HOLD),
 * and when released relays each of the bench's domains to the sink, like
 * mailroom does. Nothing of the system's /etc/postfix or of bench/peers is
 * touched. Started and stopped through its own pid file.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PostfixInstance {
  dir: string;
  port: number;
  pid(): number | null;
  /** Messages in the hold queue. */
  held(): number;
  /** Release the hold queue and flush: delivery starts now. */
  release(): Promise<void>;
  /** Messages anywhere in the queue (incoming, active, deferred, hold). */
  queued(): number;
  stop(): Promise<void>;
}

export function postfixAvailable(): { ok: true } | { ok: false; reason: string } {
  if (!existsSync('/usr/sbin/postfix')) return { ok: false, reason: '/usr/sbin/postfix is not installed (apt-get install postfix, or: sudo bench/peers/setup.sh)' };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'a Postfix instance needs root to start' };
  return { ok: true };
}

function count(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? count(join(dir, e.name)) : 1;
  return n;
}

export async function startPostfix(opts: { dir: string; port: number; domains: string[]; sinkPort: number; processLimit?: number; concurrency?: number }): Promise<PostfixInstance> {
  const { dir, port } = opts;
  const etc = join(dir, 'etc');
  const spool = join(dir, 'spool');
  const data = join(dir, 'data');
  mkdirSync(etc, { recursive: true });
  mkdirSync(spool, { recursive: true });
  mkdirSync(data, { recursive: true });
  chmodSync(dir, 0o755);
  const ids = await run('id', ['-u', 'postfix']).then((r) => Number(r.stdout.trim()));
  const gid = await run('id', ['-g', 'postfix']).then((r) => Number(r.stdout.trim()));
  chownSync(data, ids, gid);
  writeFileSync(join(etc, 'transport'), opts.domains.map((d) => `${d} smtp:[127.0.0.1]:${opts.sinkPort}`).join('\n') + '\n');
  writeFileSync(join(etc, 'hold'), '127.0.0.1 HOLD\n');
  writeFileSync(
    join(etc, 'main.cf'),
    `# Written by mailroom bench/queue for one run.
compatibility_level = 3.6
queue_directory = ${spool}
data_directory = ${data}
myhostname = postfix.bench.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_client_restrictions = check_client_access texthash:${etc}/hold
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relay_domains = ${opts.domains.join(' ')}
transport_maps = texthash:${etc}/transport
alias_maps =
alias_database =
local_recipient_maps =
biff = no
message_size_limit = 67108864
smtputf8_enable = no
smtp_tls_security_level = none
${opts.processLimit ? `default_process_limit = ${opts.processLimit}\n` : ''}${opts.concurrency ? `default_destination_concurrency_limit = ${opts.concurrency}\n` : ''}maillog_file_prefixes = /var, /dev/stdout, ${dir}
maillog_file = ${dir}/postfix.log
`,
  );
  const services = [
    `127.0.0.1:${port} inet n - n - - smtpd`,
    'pickup unix n - n 60 1 pickup',
    'cleanup unix n - n - 0 cleanup',
    'qmgr unix n - n 300 1 qmgr',
    'rewrite unix - - n - - trivial-rewrite',
    'bounce unix - - n - 0 bounce',
    'defer unix - - n - 0 bounce',
    'trace unix - - n - 0 bounce',
    'verify unix - - n - 1 verify',
    'flush unix n - n 1000? 0 flush',
    'proxymap unix - - n - - proxymap',
    'proxywrite unix - - n - 1 proxymap',
    'smtp unix - - n - - smtp',
    'relay unix - - n - - smtp',
    'showq unix n - n - - showq',
    'error unix - - n - - error',
    'retry unix - - n - - error',
    'discard unix - - n - - discard',
    'anvil unix - - n - 1 anvil',
    'scache unix - - n - 1 scache',
    'postlog unix-dgram n - n - 1 postlogd',
  ];
  writeFileSync(join(etc, 'master.cf'), services.join('\n') + '\n');
  // `check` creates the queue directories with their owners; `script` gives Postfix a tty to print errors on.
  await run('script', ['-qc', `postfix -c '${etc}' check`, '/dev/null']);
  await run('postfix', ['-c', etc, 'start']);
  const pidFile = join(spool, 'pid', 'master.pid');
  const pid = (): number | null => {
    try {
      const p = Number(readFileSync(pidFile, 'utf8').trim());
      process.kill(p, 0);
      return p;
    } catch {
      return null;
    }
  };
  for (let i = 0; i < 100 && !pid(); i++) await new Promise((r) => setTimeout(r, 100));
  if (!pid()) throw new Error(`postfix did not start; see ${dir}/postfix.log`);
  return {
    dir,
    port,
    pid,
    held: () => count(join(spool, 'hold')),
    queued: () => ['incoming', 'active', 'deferred', 'hold', 'maildrop'].reduce((n, q) => n + count(join(spool, q)), 0),
    async release() {
      await run('postsuper', ['-c', etc, '-H', 'ALL']);
      await run('postqueue', ['-c', etc, '-f']);
    },
    async stop() {
      const p = pid();
      if (!p) return;
      process.kill(p, 'SIGTERM');
      for (let i = 0; i < 300; i++) {
        try {
          process.kill(p, 0);
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}
