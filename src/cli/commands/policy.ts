/**
 * `mailroom access …` and `mailroom relay …`: the SMTP access lists and relay
 * rules, kept in the store (every node sees them within a few seconds:
 * smtp.policy_cache_seconds).
 *
 *   access allow|deny <ip-or-cidr>      who may connect (an allow list, once it has entries, admits only its members)
 *   access block-sender <address>       refused at MAIL FROM
 *   access block-domain <domain>        refused at MAIL FROM (subdomains too)
 *   access block-host <hostname>        client reverse-DNS or HELO name (subdomains too)
 *   relay trust <ip-or-cidr>            may relay without authentication
 *   relay domain <domain>|.<domain>     anyone may send to it (".d" covers subdomains too)
 *   relay address <address>             anyone may send to it
 *   … list [--json], … remove <id>
 */
import type { Command } from 'commander';
import { lookupKey, normalizeDomain, parseMailbox } from '../../core/address.js';
import { parseCidr } from '../../core/cidr.js';
import type { AccessRule, AccessRuleKind, RelayRule, RelayRuleKind } from '../../store/types.js';
import type { CliContext } from '../context.js';

const ACCESS_NAMES: Record<AccessRuleKind, string> = {
  allowIp: 'allow',
  denyIp: 'deny',
  blockSender: 'block-sender',
  blockSenderDomain: 'block-domain',
  blockHost: 'block-host',
};

const RELAY_NAMES: Record<RelayRuleKind, string> = {
  trustedIp: 'trust',
  domain: 'domain',
  address: 'address',
};

function cidrValue(cli: CliContext, raw: string): string {
  const c = parseCidr(raw);
  if (!c) cli.fail(`"${raw}" is not an IP address or CIDR range (e.g. 192.0.2.7, 198.51.100.0/24, 2001:db8::/32)`);
  return c.text.endsWith('/32') && c.family === 4 ? c.text.slice(0, -3) : c.text.endsWith('/128') ? c.text.slice(0, -4) : c.text;
}

function addressValue(cli: CliContext, raw: string): string {
  const p = parseMailbox(raw);
  if (!p.ok) cli.fail(`"${raw}" is not an email address (${p.reason})`);
  return lookupKey(p.address);
}

function domainValue(cli: CliContext, raw: string, opts: { subdomainMarker?: boolean } = {}): string {
  const marker = opts.subdomainMarker && /^\*?\./.test(raw.trim()) ? '.' : '';
  const d = normalizeDomain(raw.trim().replace(/^@|^\*?\./, ''));
  if (!d) cli.fail(`"${raw}" is not a valid domain name`);
  return marker + d;
}

function columns<T extends AccessRule | RelayRule>(names: Record<string, string>) {
  return [
    { header: 'id', value: (r: T) => r.id },
    { header: 'rule', value: (r: T) => names[r.kind] ?? r.kind },
    { header: 'value', value: (r: T) => r.value },
    { header: 'note', value: (r: T) => r.note },
    { header: 'created', value: (r: T) => r.createdAt.toISOString() },
  ];
}

const jsonRule = (names: Record<string, string>) => (r: AccessRule | RelayRule) => ({
  id: r.id,
  rule: names[r.kind] ?? r.kind,
  kind: r.kind,
  value: r.value,
  note: r.note,
  createdAt: r.createdAt.toISOString(),
});

function parseId(cli: CliContext, raw: string): number {
  const id = Number(raw);
  if (!Number.isInteger(id) || id <= 0) cli.fail(`"${raw}" is not a rule id (see the id column of "list")`);
  return id;
}

export function registerPolicyCommands(program: Command, cli: CliContext): void {
  // ------------------------------------------------------------ access
  const access = program.command('access').description('who may connect and send: allow/deny lists of addresses and ranges, blocked senders and hosts');

  const accessRules: Array<{ kind: AccessRuleKind; arg: string; help: string; value: (raw: string) => string }> = [
    { kind: 'allowIp', arg: '<ip-or-cidr>', help: 'admit this address or range (once any allow rule exists, only listed clients may connect)', value: (v) => cidrValue(cli, v) },
    { kind: 'denyIp', arg: '<ip-or-cidr>', help: 'refuse connections from this address or range (554 5.7.1 at connect)', value: (v) => cidrValue(cli, v) },
    { kind: 'blockSender', arg: '<address>', help: 'refuse this sender address at MAIL FROM (550 5.7.1)', value: (v) => addressValue(cli, v) },
    { kind: 'blockSenderDomain', arg: '<domain>', help: 'refuse senders in this domain and its subdomains at MAIL FROM (550 5.7.1)', value: (v) => domainValue(cli, v) },
    { kind: 'blockHost', arg: '<hostname>', help: 'refuse clients whose reverse-DNS or HELO name is this host or under it', value: (v) => domainValue(cli, v) },
  ];
  for (const r of accessRules) {
    access
      .command(`${ACCESS_NAMES[r.kind]} ${r.arg}`)
      .description(r.help)
      .option('--note <text>', 'why (shown by list)', '')
      .action(async (raw: string, o: { note: string }, cmd: Command) => {
        const value = r.value(raw);
        await cli.withStore(cmd, async (store) => {
          const existing = await store.listAccessRules(r.kind);
          if (existing.some((e) => e.value === value)) cli.fail(`${ACCESS_NAMES[r.kind]} ${value} already exists`);
          const rule = await store.addAccessRule(r.kind, value, o.note);
          process.stdout.write(`added access rule ${rule.id}: ${ACCESS_NAMES[r.kind]} ${value}\n`);
          if (r.kind === 'allowIp' && existing.length === 0) {
            process.stdout.write('note: with an allow list, only the listed addresses may connect (add 127.0.0.1 if local tools send mail)\n');
          }
        });
      });
  }
  access
    .command('list')
    .description('list access rules')
    .option('--json', 'print JSON')
    .action(async (_o, cmd: Command) => {
      await cli.withStore(cmd, async (store) => {
        const rules = (await store.listAccessRules()).sort((a, b) => a.id - b.id);
        cli.print(cmd, rules, columns<AccessRule>(ACCESS_NAMES), rules.map(jsonRule(ACCESS_NAMES)));
      });
    });
  access
    .command('remove <id>')
    .description('remove an access rule by its id')
    .action(async (raw: string, _o, cmd: Command) => {
      const id = parseId(cli, raw);
      await cli.withStore(cmd, async (store) => {
        const rule = (await store.listAccessRules()).find((r) => r.id === id);
        if (!rule) cli.fail(`no access rule ${id} (see: mailroom access list)`);
        await store.removeAccessRule(id);
        process.stdout.write(`removed access rule ${id}: ${ACCESS_NAMES[rule.kind]} ${rule.value}\n`);
      });
    });

  // ------------------------------------------------------------ relay
  const relay = program
    .command('relay')
    .description('who may send mail through this server to other domains (besides authenticated users, see relay.authenticated)');
  const relayRules: Array<{ kind: RelayRuleKind; arg: string; help: string; value: (raw: string) => string }> = [
    { kind: 'trustedIp', arg: '<ip-or-cidr>', help: 'let clients at this address or range relay without logging in', value: (v) => cidrValue(cli, v) },
    { kind: 'domain', arg: '<domain>', help: 'accept mail for this domain from anyone and pass it on (".example.org" covers subdomains too)', value: (v) => domainValue(cli, v, { subdomainMarker: true }) },
    { kind: 'address', arg: '<address>', help: 'accept mail for this address from anyone and pass it on', value: (v) => addressValue(cli, v) },
  ];
  for (const r of relayRules) {
    relay
      .command(`${RELAY_NAMES[r.kind]} ${r.arg}`)
      .description(r.help)
      .option('--note <text>', 'why (shown by list)', '')
      .action(async (raw: string, o: { note: string }, cmd: Command) => {
        const value = r.value(raw);
        await cli.withStore(cmd, async (store) => {
          if ((await store.listRelayRules(r.kind)).some((e) => e.value === value)) cli.fail(`relay ${RELAY_NAMES[r.kind]} ${value} already exists`);
          if (r.kind === 'domain' && (await store.getDomain(value.replace(/^\./, '')))) {
            cli.fail(`${value} is one of our own domains: mail for it is delivered here, not relayed`);
          }
          const rule = await store.addRelayRule(r.kind, value, o.note);
          process.stdout.write(`added relay rule ${rule.id}: ${RELAY_NAMES[r.kind]} ${value}\n`);
        });
      });
  }
  relay
    .command('list')
    .description('list relay rules')
    .option('--json', 'print JSON')
    .action(async (_o, cmd: Command) => {
      await cli.withStore(cmd, async (store, loaded) => {
        const rules = (await store.listRelayRules()).sort((a, b) => a.id - b.id);
        if (!cmd.opts().json) {
          process.stdout.write(`authenticated users may relay: ${loaded.config.relay.authenticated ? 'yes' : 'no'} (config relay.authenticated)\n`);
        }
        cli.print(cmd, rules, columns<RelayRule>(RELAY_NAMES), rules.map(jsonRule(RELAY_NAMES)));
      });
    });
  relay
    .command('remove <id>')
    .description('remove a relay rule by its id')
    .action(async (raw: string, _o, cmd: Command) => {
      const id = parseId(cli, raw);
      await cli.withStore(cmd, async (store) => {
        const rule = (await store.listRelayRules()).find((r) => r.id === id);
        if (!rule) cli.fail(`no relay rule ${id} (see: mailroom relay list)`);
        await store.removeRelayRule(id);
        process.stdout.write(`removed relay rule ${id}: ${RELAY_NAMES[rule.kind]} ${rule.value}\n`);
      });
    });
}
