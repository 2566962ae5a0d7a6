/**
 * `mailroom fetch add|list|remove|run`: external POP3/IMAP mailboxes whose
 * mail mailroom collects (src/fetch). Accounts live in the store, so a running
 * server picks up changes within its refresh interval; `run` polls now, from
 * this process, with the same code the server's scheduler uses.
 */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import pino from 'pino';
import { createRecipients, createRoute } from '../../delivery/route.js';
import { pollAccount, type PollProgress, type PollResult } from '../../fetch/index.js';
import { isStoreError } from '../../store/errors.js';
import type { ExternalAccount, NewExternalAccount, Store, User } from '../../store/types.js';
import type { CliContext } from '../context.js';

interface AddOptions {
  protocol: string;
  host: string;
  port?: string;
  tls: string;
  user: string;
  password?: string;
  interval: string;
  folder: string[];
  keep?: boolean;
  delete?: boolean;
  deleteAfter?: string;
  to?: string;
  multidrop?: boolean;
  fallback?: string;
  disabled?: boolean;
}

const DEFAULT_PORTS = {
  pop3: { none: 110, starttls: 110, implicit: 995 },
  imap: { none: 143, starttls: 143, implicit: 993 },
} as const;

/** "300", "90s", "5m", "2h", "1d" → seconds. */
export function parseInterval(raw: string): number | null {
  const m = /^(\d+)\s*([smhd]?)$/i.exec(raw.trim());
  if (!m) return null;
  const n = Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2]!.toLowerCase() as '' | 's' | 'm' | 'h' | 'd'];
  return n >= 1 ? n : null;
}

function formatInterval(s: number): string {
  if (s % 86400 === 0) return `${s / 86400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

function remotePolicy(a: ExternalAccount): string {
  if (a.keep === 'keep') return 'keep';
  if (a.keep === 'delete') return 'delete';
  return `delete after ${a.deleteAfterDays}d`;
}

async function findUser(cli: CliContext, store: Store, who: string): Promise<User> {
  const byLogin = await store.getUserByLogin(who);
  if (byLogin) return byLogin;
  if (who.includes('@')) {
    const at = who.lastIndexOf('@');
    const r = await store.resolveAddress(`${who.slice(0, at).toLowerCase()}@${who.slice(at + 1).toLowerCase()}`);
    if (r.kind === 'user') return r.user;
  }
  cli.fail(`no local user "${who}" (see: mailroom user list)`);
}

async function findAccount(cli: CliContext, store: Store, name: string): Promise<ExternalAccount> {
  const a = await store.getExternalAccount(name);
  if (!a) cli.fail(`no external account "${name}" (see: mailroom fetch list)`);
  return a;
}

/** What --json shows of an account: everything but the sealed password. */
function publicView(a: ExternalAccount, users: Map<number, User>): Record<string, unknown> {
  const { sealedPassword: _sealed, ...rest } = a;
  return { ...rest, target: users.get(a.targetUserId)?.address ?? null };
}

function oneOf<T extends string>(cli: CliContext, what: string, raw: string, allowed: readonly T[]): T {
  const v = raw.toLowerCase() as T;
  if (!allowed.includes(v)) cli.fail(`--${what} must be one of ${allowed.join(', ')}, not "${raw}"`);
  return v;
}

export function registerFetchCommands(program: Command, cli: CliContext): void {
  const fetch = program.command('fetch').description('collect mail from external POP3/IMAP mailboxes (a provider mailbox, or one shared by the whole office)');

  fetch
    .command('add <name>')
    .description('add an external mailbox to collect from; the password comes from --password or standard input')
    .requiredOption('--protocol <protocol>', 'pop3 or imap')
    .requiredOption('--host <host>', 'the provider server')
    .option('--port <port>', 'port (default: 995/993 for implicit TLS, 110/143 otherwise)')
    .option('--tls <mode>', 'implicit (TLS from the start), starttls (required upgrade), or none', 'implicit')
    .requiredOption('--user <username>', 'login name at the provider')
    .option('--password <password>', 'password at the provider (else read from standard input); stored encrypted')
    .option('--interval <time>', 'how often to poll: seconds, or 90s, 5m, 1h', '5m')
    .option('--folder <folder>', 'IMAP folder to collect (repeat for several; default INBOX)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--keep', 'leave fetched mail on the server (default)')
    .option('--delete', 'delete mail from the server once it is safely delivered here')
    .option('--delete-after <days>', 'delete mail from the server this many days after it was delivered here')
    .option('--to <user>', 'single-drop: everything goes to this local user')
    .option('--multidrop', 'multi-drop: split the mailbox among local users by recipient headers')
    .option('--fallback <user>', 'multi-drop: the local user who gets mail for no known local recipient (e.g. the postmaster)')
    .option('--disabled', 'add it without polling it yet')
    .option('--json', 'print JSON')
    .action(async (name: string, o: AddOptions, cmd: Command) => {
      if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(name)) cli.fail(`"${name}" is not a usable account name (letters, digits, . _ @ -, up to 64)`);
      const protocol = oneOf(cli, 'protocol', o.protocol, ['pop3', 'imap'] as const);
      const tls = oneOf(cli, 'tls', o.tls, ['none', 'starttls', 'implicit'] as const);
      const port = o.port === undefined ? DEFAULT_PORTS[protocol][tls] : Number(o.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) cli.fail(`--port must be a port number (1-65535), not "${o.port}"`);
      const interval = parseInterval(o.interval);
      if (interval === null) cli.fail(`--interval must be a duration like 300, 90s, 5m or 1h, not "${o.interval}"`);
      if ([o.keep, o.delete, o.deleteAfter !== undefined].filter(Boolean).length > 1) cli.fail('choose one of --keep, --delete and --delete-after');
      let keep: NewExternalAccount['keep'] = 'keep';
      let deleteAfterDays = 0;
      if (o.delete) keep = 'delete';
      if (o.deleteAfter !== undefined) {
        deleteAfterDays = Number(o.deleteAfter);
        if (!Number.isInteger(deleteAfterDays) || deleteAfterDays < 0) cli.fail(`--delete-after takes a number of days, not "${o.deleteAfter}"`);
        keep = 'deleteAfterDays';
      }
      if (o.multidrop && o.to) cli.fail('--to is for single-drop; with --multidrop name the --fallback user instead');
      if (!o.multidrop && o.fallback) cli.fail('--fallback is for --multidrop; for single-drop use --to');
      const who = o.multidrop ? o.fallback : o.to;
      if (!who) cli.fail(o.multidrop ? '--multidrop needs --fallback <user> (who gets mail for no known local recipient)' : 'say where the mail goes: --to <user>, or --multidrop --fallback <user>');
      if (protocol === 'pop3' && o.folder.length > 0 && !(o.folder.length === 1 && o.folder[0]!.toUpperCase() === 'INBOX')) cli.fail('POP3 has only one folder; --folder is for IMAP');
      const password = await cli.readPassword(o.password);
      await cli.withStore(cmd, async (store, loaded) => {
        if (await store.getExternalAccount(name)) cli.fail(`an external account named "${name}" already exists`);
        const target = await findUser(cli, store, who);
        const secrets = await cli.secrets(loaded);
        const account = await store
          .addExternalAccount({
            name,
            protocol,
            host: o.host.trim(),
            port,
            tls,
            username: o.user,
            sealedPassword: secrets.seal(password),
            interval,
            folders: protocol === 'imap' ? (o.folder.length > 0 ? o.folder : ['INBOX']) : [],
            keep,
            deleteAfterDays,
            mode: o.multidrop ? 'multi' : 'single',
            targetUserId: target.id,
            enabled: !o.disabled,
          })
          .catch((e: unknown) => {
            if (isStoreError(e, 'exists')) cli.fail(`an external account named "${name}" already exists`);
            throw e;
          });
        if ((cmd.optsWithGlobals() as { json?: boolean }).json) cli.printObject(cmd, publicView(account, new Map([[target.id, target]])));
        else
          process.stdout.write(
            `added ${protocol} account ${name}: ${o.user}@${account.host}:${port} (${tls}), every ${formatInterval(interval)}, ` +
              `${o.multidrop ? `multi-drop (fallback ${target.address})` : `to ${target.address}`}, ${remotePolicy(account)} on the server\n`,
          );
      });
    });

  fetch
    .command('list')
    .description('list external mailboxes with their last poll and its error, if any')
    .option('--json', 'print JSON')
    .action(async (_o, cmd: Command) => {
      await cli.withStore(cmd, async (store) => {
        const accounts = await store.listExternalAccounts();
        const users = new Map((await store.listUsers()).map((u) => [u.id, u]));
        cli.print(
          cmd,
          accounts,
          [
            { header: 'name', value: (a) => a.name },
            { header: 'server', value: (a) => `${a.protocol}://${a.host}:${a.port}${a.tls === 'none' ? '' : ` (${a.tls})`}` },
            { header: 'user', value: (a) => a.username },
            { header: 'delivery', value: (a) => (a.mode === 'single' ? `to ${users.get(a.targetUserId)?.address ?? '?'}` : `multi-drop, fallback ${users.get(a.targetUserId)?.address ?? '?'}`) },
            { header: 'folders', value: (a) => (a.protocol === 'imap' ? a.folders.join(',') : '') },
            { header: 'every', value: (a) => formatInterval(a.interval) },
            { header: 'remote', value: (a) => remotePolicy(a) },
            { header: 'enabled', value: (a) => (a.enabled ? 'yes' : 'no') },
            { header: 'last poll', value: (a) => a.lastPollAt },
            { header: 'fetched', value: (a) => (a.lastPollAt ? a.lastCount : '') },
            { header: 'error', value: (a) => a.lastError ?? '' },
          ],
          accounts.map((a) => publicView(a, users)),
        );
      });
    });

  fetch
    .command('remove <name>')
    .description('stop collecting from an external mailbox (mail already fetched stays)')
    .action(async (name: string, _o, cmd: Command) => {
      await cli.withStore(cmd, async (store) => {
        const a = await findAccount(cli, store, name);
        await store.removeExternalAccount(a.id);
        process.stdout.write(`removed external account ${name}\n`);
      });
    });

  fetch
    .command('run [name]')
    .description('poll now (one account, or every enabled one), from this process, with progress')
    .option('--quiet', 'no progress, only the summary')
    .option('--json', 'print the results as JSON')
    .action(async (name: string | undefined, o: { quiet?: boolean }, cmd: Command) => {
      const json = !!(cmd.optsWithGlobals() as { json?: boolean }).json;
      await cli.withStore(cmd, async (store, loaded) => {
        const accounts = name ? [await findAccount(cli, store, name)] : (await store.listExternalAccounts()).filter((a) => a.enabled);
        if (accounts.length === 0) cli.fail('no enabled external accounts (add one with: mailroom fetch add)');
        const logger = pino({ level: loaded.config.log.level === 'silent' ? 'silent' : 'warn' }, pino.destination(2));
        const route = createRoute({ store, config: loaded.config, logger: logger.child({ module: 'route' }) });
        const secrets = await cli.secrets(loaded);
        const results: PollResult[] = [];
        for (const account of accounts) {
          const progress = json || o.quiet ? null : progressPrinter(account.name);
          const r = await pollAccount(account, {
            store,
            route,
            recipients: createRecipients(store, loaded.config),
            config: loaded.config,
            secrets,
            logger,
            owner: `cli:${process.pid}`,
            onProgress: progress?.update,
          });
          progress?.stop();
          results.push(r);
          if (!json) {
            const parts = [`${r.fetched} fetched`];
            if (r.failed) parts.push(`${r.failed} left on the server`);
            if (r.deleted) parts.push(`${r.deleted} deleted there`);
            process.stdout.write(`${account.name}: ${r.skipped ? 'skipped' : parts.join(', ')} in ${(r.durationMs / 1000).toFixed(1)} s${r.error ? ` (${r.error.summary})` : ''}\n`);
          }
        }
        if (json) {
          process.stdout.write(JSON.stringify(results.map((r) => ({ ...r, error: r.error?.summary ?? null })), null, 2) + '\n');
        }
        if (results.some((r) => r.error)) process.exitCode = 1;
      });
    });
}

/**
 * Progress for a poll: a bar on a terminal; elsewhere (logs, pipes) a line
 * every 500 messages or 5 seconds, so a first poll of 10,000 messages shows life.
 */
function progressPrinter(account: string): { update: (p: PollProgress) => void; stop: () => void } {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${account} {folder} [{bar}] {value}/{total} messages, {mb} MB, {failed} left`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p) {
        if (p.phase === 'list' && p.total > 0) {
          if (started) bar.stop();
          bar.start(p.total, 0, { folder: p.folder, mb: '0.0', failed: 0 });
          started = true;
        } else if (started && (p.phase === 'fetch' || p.phase === 'done')) {
          bar.update(p.done + p.failed, { folder: p.folder, mb: (p.bytes / 1e6).toFixed(1), failed: p.failed });
        }
      },
      stop: () => {
        if (started) bar.stop();
      },
    };
  }
  let lastAt = 0;
  let lastCount = 0;
  return {
    update(p) {
      const count = p.done + p.failed;
      if (p.phase === 'list' && p.total > 0) process.stderr.write(`${account} ${p.folder}: ${p.total} new message(s)\n`);
      if (p.phase !== 'fetch' || p.total < 100) return;
      if (count - lastCount >= 500 || Date.now() - lastAt >= 5000 || count === p.total) {
        lastAt = Date.now();
        lastCount = count;
        process.stderr.write(`${account} ${p.folder}: ${count}/${p.total} (${Math.floor((count * 100) / p.total)}%), ${(p.bytes / 1e6).toFixed(1)} MB\n`);
      }
    },
    stop: () => undefined,
  };
}
