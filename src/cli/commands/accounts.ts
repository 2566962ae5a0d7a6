/** `mailroom domain|user|alias|mailbox …`: the accounts an administrator manages. */
import type { Command } from 'commander';
import { isStoreError } from '../../store/errors.js';
import type { Store, User } from '../../store/types.js';
import type { CliContext } from '../context.js';

const DOMAIN_RE = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export function normalizeDomain(cli: CliContext, raw: string): string {
  const d = raw.trim().toLowerCase().replace(/\.$/, '');
  if (!DOMAIN_RE.test(d)) cli.fail(`"${raw}" is not a valid domain name (letters, digits, hyphens and dots, e.g. example.org)`);
  return d;
}

/** local@domain with the domain lower-cased; fails with a clear sentence otherwise. */
export function normalizeAddress(cli: CliContext, raw: string, opts: { allowCatchAll?: boolean } = {}): string {
  const s = raw.trim();
  const at = s.lastIndexOf('@');
  if (at < 0) cli.fail(`"${raw}" is not an email address: it has no domain (write it as name@example.org)`);
  const local = s.slice(0, at);
  const domain = normalizeDomain(cli, s.slice(at + 1));
  if (!local && !opts.allowCatchAll) cli.fail(`"${raw}" has no local part before the @`);
  if (local && !/^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+$/.test(local)) cli.fail(`"${raw}": the part before @ may hold letters, digits and . ! # $ % & ' * + / = ? ^ _ \` { | } ~ -`);
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) cli.fail(`"${raw}": the part before @ may not start or end with a dot or hold two dots in a row`);
  return `${local.toLowerCase()}@${domain}`;
}

/** "500M", "2G", "1048576", "0" (unlimited) → bytes. */
export function parseSize(cli: CliContext, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(raw.trim());
  if (!m) cli.fail(`"${raw}" is not a size: write it like 500M, 2G or 0 for unlimited`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * mult);
}

export function formatSize(bytes: number): string {
  if (bytes === 0) return '0';
  const units = ['B', 'K', 'M', 'G', 'T'];
  let i = 0;
  let v = bytes;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)}${units[i]}`;
}

async function findUser(cli: CliContext, store: Store, who: string): Promise<User> {
  const byLogin = await store.getUserByLogin(who);
  if (byLogin) return byLogin;
  if (who.includes('@')) {
    const r = await store.resolveAddress(normalizeAddress(cli, who));
    if (r.kind === 'user') return r.user;
  }
  cli.fail(`no user "${who}" (see: mailroom user list)`);
}

async function requireDomain(cli: CliContext, store: Store, address: string): Promise<void> {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  if (!(await store.getDomain(domain))) cli.fail(`the domain ${domain} is not hosted here; add it first with: mailroom domain add ${domain}`);
}

function storeFail(cli: CliContext, err: unknown, what: string): never {
  if (isStoreError(err, 'exists')) cli.fail(`${what} already exists`);
  if (isStoreError(err, 'inUse')) cli.fail((err as Error).message);
  if (isStoreError(err, 'notFound')) cli.fail(`${what} does not exist`);
  throw err;
}

const userColumns = [
  { header: 'address', value: (u: User) => u.address },
  { header: 'login', value: (u: User) => u.login },
  { header: 'name', value: (u: User) => u.displayName },
  { header: 'quota', value: (u: User) => (u.quota ? formatSize(u.quota) : 'unlimited') },
  { header: 'enabled', value: (u: User) => (u.enabled ? 'yes' : 'no') },
  { header: 'admin', value: (u: User) => (u.isAdmin ? 'yes' : '') },
];

export function registerAccountCommands(program: Command, cli: CliContext): void {
  // ------------------------------------------------------------ domain
  const domain = program.command('domain').description('manage the domains this server receives mail for');
  domain
    .command('add <domain>')
    .description('host a new domain')
    .action(async (name: string, _o, cmd: Command) => {
      const d = normalizeDomain(cli, name);
      await cli.withStore(cmd, async (store) => {
        await store.addDomain(d).catch((e) => storeFail(cli, e, `domain ${d}`));
        process.stdout.write(`added domain ${d}\n`);
      });
    });
  domain
    .command('list')
    .description('list hosted domains')
    .option('--json', 'print JSON')
    .action(async (_o, cmd: Command) => {
      await cli.withStore(cmd, async (store) => {
        const domains = await store.listDomains();
        const users = await store.listUsers();
        const count = (d: string) => users.filter((u) => u.address.endsWith('@' + d)).length;
        cli.print(cmd, domains, [
          { header: 'domain', value: (d) => d.name },
          { header: 'users', value: (d) => count(d.name) },
          { header: 'created', value: (d) => d.createdAt },
        ]);
      });
    });
  domain
    .command('remove <domain>')
    .description('stop hosting a domain (refused while it has users or aliases, unless --force)')
    .option('--force', 'also remove its users, their mail, and its aliases')
    .action(async (name: string, o: { force?: boolean }, cmd: Command) => {
      const d = normalizeDomain(cli, name);
      await cli.withStore(cmd, async (store) => {
        if (!(await store.getDomain(d))) cli.fail(`the domain ${d} is not hosted here (see: mailroom domain list)`);
        await store.removeDomain(d, { force: o.force }).catch((e) => {
          if (isStoreError(e, 'inUse')) cli.fail(`the domain ${d} still has users or aliases; remove them first, or use --force`);
          throw e;
        });
        process.stdout.write(`removed domain ${d}\n`);
      });
    });

  // ------------------------------------------------------------ user
  const user = program.command('user').description('manage users (mailbox owners)');
  user
    .command('add <address>')
    .description('create a user; the password comes from --password or standard input')
    .option('--password <password>', 'the password (else read from standard input)')
    .option('--login <login>', 'login name, if not the address')
    .option('--name <name>', 'display name')
    .option('--quota <size>', 'mailbox quota, e.g. 2G (0 = unlimited)')
    .option('--admin', 'may use the web administration')
    .option('--json', 'print JSON')
    .action(async (raw: string, o: { password?: string; login?: string; name?: string; quota?: string; admin?: boolean }, cmd: Command) => {
      const address = normalizeAddress(cli, raw);
      const quota = o.quota ? parseSize(cli, o.quota) : 0;
      const password = await cli.readPassword(o.password);
      await cli.withStore(cmd, async (store, loaded) => {
        await requireDomain(cli, store, address);
        const login = o.login ?? address;
        if (await store.getUserByLogin(login)) cli.fail(`a user with login ${login} already exists`);
        if ((await store.resolveAddress(address)).kind === 'user') cli.fail(`the address ${address} already belongs to a user`);
        const auth = await cli.authenticator(store, loaded);
        const u = await store
          .addUser({ login, address, displayName: o.name ?? '', quota, isAdmin: !!o.admin, credentials: await auth.deriveCredentials(password) })
          .catch((e) => storeFail(cli, e, `user ${address}`));
        if ((cmd.optsWithGlobals() as { json?: boolean }).json) cli.printObject(cmd, { ...u });
        else process.stdout.write(`added user ${u.address}${u.login !== u.address ? ` (login ${u.login})` : ''}\n`);
      });
    });
  user
    .command('list')
    .description('list users')
    .option('--domain <domain>', 'only this domain')
    .option('--json', 'print JSON')
    .action(async (o: { domain?: string }, cmd: Command) => {
      await cli.withStore(cmd, async (store) => {
        const users = await store.listUsers(o.domain ? normalizeDomain(cli, o.domain) : undefined);
        cli.print(cmd, users, userColumns);
      });
    });
  user
    .command('passwd <user>')
    .description("set a user's password (from --password or standard input)")
    .option('--password <password>', 'the new password (else read from standard input)')
    .action(async (who: string, o: { password?: string }, cmd: Command) => {
      const password = await cli.readPassword(o.password);
      await cli.withStore(cmd, async (store, loaded) => {
        const u = await findUser(cli, store, who);
        const auth = await cli.authenticator(store, loaded);
        await store.setCredentials(u.id, await auth.deriveCredentials(password));
        process.stdout.write(`password changed for ${u.address}\n`);
      });
    });
  user
    .command('remove <user>')
    .description('delete a user and all their mail')
    .action(async (who: string, _o, cmd: Command) => {
      await cli.withStore(cmd, async (store) => {
        const u = await findUser(cli, store, who);
        await store.removeUser(u.id);
        process.stdout.write(`removed user ${u.address}\n`);
      });
    });
  user
    .command('quota <user> [size]')
    .description("show a user's quota and usage, or set it (e.g. 2G; 0 = unlimited)")
    .option('--json', 'print JSON')
    .action(async (who: string, size: string | undefined, _o, cmd: Command) => {
      await cli.withStore(cmd, async (store) => {
        let u = await findUser(cli, store, who);
        if (size !== undefined) u = await store.updateUser(u.id, { quota: parseSize(cli, size) });
        const q = await store.quota(u.id);
        cli.printObject(cmd, { user: u.address, used: q.used, limit: q.limit, messages: q.messages, summary: `${formatSize(q.used)} of ${q.limit ? formatSize(q.limit) : 'unlimited'}` });
      });
    });
  for (const [name, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    user
      .command(`${name} <user>`)
      .description(`${name} logins and delivery for a user`)
      .action(async (who: string, _o, cmd: Command) => {
        await cli.withStore(cmd, async (store) => {
          const u = await findUser(cli, store, who);
          await store.updateUser(u.id, { enabled });
          process.stdout.write(`${enabled ? 'enabled' : 'disabled'} ${u.address}\n`);
        });
      });
  }
  user
    .command('address <user> <address>')
    .description('give a user an extra address')
    .action(async (who: string, raw: string, _o, cmd: Command) => {
      const address = normalizeAddress(cli, raw);
      await cli.withStore(cmd, async (store) => {
        const u = await findUser(cli, store, who);
        await requireDomain(cli, store, address);
        await store.addAddress(u.id, address).catch((e) => storeFail(cli, e, `address ${address}`));
        process.stdout.write(`${address} now reaches ${u.address}\n`);
      });
    });
  user
    .command('forward <user> [targets...]')
    .description('forward a user\'s mail to other addresses (none = stop forwarding)')
    .option('--keep', 'also keep a copy in the mailbox')
    .action(async (who: string, targets: string[], o: { keep?: boolean }, cmd: Command) => {
      const list = targets.map((t) => normalizeAddress(cli, t));
      await cli.withStore(cmd, async (store) => {
        const u = await findUser(cli, store, who);
        await store.updateUser(u.id, { forwardTo: list, keepCopy: !!o.keep || list.length === 0 });
        process.stdout.write(list.length ? `${u.address} forwards to ${list.join(', ')}${o.keep ? ' (keeping a copy)' : ''}\n` : `${u.address} no longer forwards\n`);
      });
    });

  // ------------------------------------------------------------ alias
  const alias = program.command('alias').description('manage aliases (one address to many; @domain is the catch-all)');
  alias
    .command('add <address> <targets...>')
    .description('deliver mail for ADDRESS (or @domain for a catch-all) to the targets')
    .action(async (raw: string, targets: string[], _o, cmd: Command) => {
      const address = normalizeAddress(cli, raw, { allowCatchAll: true });
      const list = targets.map((t) => normalizeAddress(cli, t));
      await cli.withStore(cmd, async (store) => {
        await requireDomain(cli, store, address);
        const r = await store.resolveAddress(address);
        if (r.kind === 'user' && r.address === address) cli.fail(`${address} is a user's address; an alias cannot take it`);
        await store.addAlias(address, list).catch((e) => storeFail(cli, e, `alias ${address}`));
        process.stdout.write(`${address} → ${list.join(', ')}\n`);
      });
    });
  alias
    .command('list')
    .description('list aliases')
    .option('--domain <domain>', 'only this domain')
    .option('--json', 'print JSON')
    .action(async (o: { domain?: string }, cmd: Command) => {
      await cli.withStore(cmd, async (store) => {
        const aliases = await store.listAliases(o.domain ? normalizeDomain(cli, o.domain) : undefined);
        cli.print(cmd, aliases, [
          { header: 'alias', value: (a) => a.address },
          { header: 'targets', value: (a) => a.targets.join(', ') },
        ]);
      });
    });
  alias
    .command('remove <address>')
    .description('remove an alias')
    .action(async (raw: string, _o, cmd: Command) => {
      const address = normalizeAddress(cli, raw, { allowCatchAll: true });
      await cli.withStore(cmd, async (store) => {
        await store.removeAlias(address).catch((e) => storeFail(cli, e, `alias ${address}`));
        process.stdout.write(`removed alias ${address}\n`);
      });
    });

  // ------------------------------------------------------------ mailbox
  const mailbox = program.command('mailbox').description("look at users' mailboxes");
  mailbox
    .command('list <user>')
    .description("list a user's mailboxes with message counts and sizes")
    .option('--json', 'print JSON')
    .action(async (who: string, _o, cmd: Command) => {
      await cli.withStore(cmd, async (store) => {
        const u = await findUser(cli, store, who);
        const boxes = await store.listMailboxes(u.id);
        const rows = await Promise.all(boxes.map(async (b) => ({ ...b, status: await store.mailboxStatus(b.id) })));
        cli.print(cmd, rows, [
          { header: 'mailbox', value: (r) => r.name },
          { header: 'special', value: (r) => r.specialUse ?? '' },
          { header: 'messages', value: (r) => r.status.messages },
          { header: 'unseen', value: (r) => r.status.unseen },
          { header: 'size', value: (r) => formatSize(r.status.size) },
        ], rows.map((r) => ({ name: r.name, specialUse: r.specialUse, ...r.status })));
      });
    });
}
