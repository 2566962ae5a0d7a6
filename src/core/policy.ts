/**
 * SMTP access and relay decisions, as pure functions of the rules and the
 * facts of one session. The SMTP service gathers the facts (client address,
 * authentication, whether a domain is ours) and turns a verdict into a reply.
 *
 * The rule this module exists to keep: whatever the configuration, a client
 * that is neither authenticated (with relaying for authenticated users on) nor
 * from a trusted range can only reach local recipients, or recipients an
 * administrator listed for relaying — and never through routing hidden in the
 * address (percent hack, bang path, quoted "@"; see core/address.ts). Address
 * literals (`user@[192.0.2.1]`) are never local.
 *
 * Relay modes, combinable (Postfix's permit_sasl_authenticated, mynetworks,
 * relay_domains and a recipient access map):
 * - authenticated: a client that logged in may send anywhere (config relay.authenticated);
 * - trusted hosts: addresses/CIDR ranges that may relay without logging in;
 * - listed domains or addresses: anyone may send to them (backup MX, gateways);
 * - none of these: nobody relays.
 */
import type { AccessRule, AccessRuleKind, RelayRule, RelayRuleKind } from '../store/types.js';
import { domainWithin, lookupKey, normalizeDomain, parseMailbox, stripSubaddress, type MailAddress } from './address.js';
import { CidrSet } from './cidr.js';

export interface Reply {
  code: number;
  enhanced: string;
  text: string;
}

/** The verdict of one check at one stage. */
export type CheckResult = { kind: 'accept' } | { kind: 'reject'; reply: Reply } | { kind: 'tempfail'; reply: Reply };

export const ACCEPT: CheckResult = { kind: 'accept' };

function reject(code: number, enhanced: string, text: string): CheckResult {
  return { kind: 'reject', reply: { code, enhanced, text } };
}

// ---------------------------------------------------------------- access

export interface AccessPolicy {
  /** When non-empty, only these may connect. */
  allowIp: CidrSet;
  denyIp: CidrSet;
  /** Lookup keys (lower-case addresses). */
  blockSender: Set<string>;
  /** Normalised domains; a rule covers its subdomains too. */
  blockSenderDomain: string[];
  /** Normalised host names; suffix match on label boundaries. */
  blockHost: string[];
}

type RuleLike<K> = { kind: K; value: string };

export function compileAccessPolicy(rules: Array<RuleLike<AccessRuleKind> | AccessRule>): AccessPolicy {
  const by = (k: AccessRuleKind) => rules.filter((r) => r.kind === k).map((r) => r.value.trim());
  const blockSender = new Set<string>();
  for (const v of by('blockSender')) {
    const p = parseMailbox(v);
    blockSender.add(p.ok ? lookupKey(p.address) : v.toLowerCase());
  }
  const domains = (vs: string[]) => vs.map((v) => normalizeDomain(v.replace(/^@|^\*\.|^\./, ''))).filter((d): d is string => !!d);
  return {
    allowIp: new CidrSet(by('allowIp')),
    denyIp: new CidrSet(by('denyIp')),
    blockSender,
    blockSenderDomain: domains(by('blockSenderDomain')),
    blockHost: domains(by('blockHost')),
  };
}

function hostBlocked(p: AccessPolicy, host: string | null | undefined): boolean {
  if (!host) return false;
  const h = normalizeDomain(host.replace(/^\[.*\]$/, ''));
  return !!h && p.blockHost.some((b) => domainWithin(h, b));
}

/** At connect: the client's address and, when known, its reverse-DNS name. */
export function checkConnect(p: AccessPolicy, ip: string, clientHostname?: string | null): CheckResult {
  if (p.denyIp.has(ip)) return reject(554, '5.7.1', 'Access denied');
  if (p.allowIp.size > 0 && !p.allowIp.has(ip)) return reject(554, '5.7.1', 'Access denied');
  if (hostBlocked(p, clientHostname)) return reject(554, '5.7.1', 'Access denied: client host blocked');
  return ACCEPT;
}

/** The HELO/EHLO name, checked at the first command after it that can be refused (MAIL). */
export function checkHelo(p: AccessPolicy, heloName: string | null | undefined): CheckResult {
  if (hostBlocked(p, heloName)) return reject(550, '5.7.1', 'Access denied: client host blocked');
  return ACCEPT;
}

/** At MAIL FROM; null for the null reverse-path. */
export function checkSender(p: AccessPolicy, sender: MailAddress | null): CheckResult {
  if (!sender) return ACCEPT;
  if (p.blockSender.has(lookupKey(sender))) return reject(550, '5.7.1', 'Sender address rejected: access denied');
  if (!sender.ipLiteral && p.blockSenderDomain.some((d) => domainWithin(sender.domain, d))) {
    return reject(550, '5.7.1', 'Sender domain rejected: access denied');
  }
  return ACCEPT;
}

// ---------------------------------------------------------------- relay

export interface RelayPolicy {
  /** Authenticated clients may relay. */
  authenticated: boolean;
  trusted: CidrSet;
  /** Normalised domains; a value written ".example.org" also covers subdomains. */
  domains: Array<{ domain: string; subdomains: boolean }>;
  /** Lookup keys. */
  addresses: Set<string>;
}

export function compileRelayPolicy(rules: Array<RuleLike<RelayRuleKind> | RelayRule>, opts: { authenticated: boolean }): RelayPolicy {
  const by = (k: RelayRuleKind) => rules.filter((r) => r.kind === k).map((r) => r.value.trim());
  const domains: RelayPolicy['domains'] = [];
  for (const v of by('domain')) {
    const subdomains = v.startsWith('.') || v.startsWith('*.');
    const d = normalizeDomain(v.replace(/^\*?\./, ''));
    if (d) domains.push({ domain: d, subdomains });
  }
  const addresses = new Set<string>();
  for (const v of by('address')) {
    const p = parseMailbox(v);
    if (p.ok) addresses.add(lookupKey(p.address));
  }
  return { authenticated: opts.authenticated, trusted: new CidrSet(by('trustedIp')), domains, addresses };
}

export interface ClientFacts {
  ip: string;
  authenticated: boolean;
}

/** Whether this client may send to any destination. */
export function clientMayRelay(p: RelayPolicy, client: ClientFacts): boolean {
  return (client.authenticated && p.authenticated) || p.trusted.has(client.ip);
}

function listedForRelay(p: RelayPolicy, rcpt: MailAddress): boolean {
  if (rcpt.ipLiteral) return false;
  if (p.addresses.has(lookupKey(rcpt))) return true;
  return p.domains.some((d) => rcpt.domain === d.domain || (d.subdomains && domainWithin(rcpt.domain, d.domain)));
}

export type RecipientVerdict = { kind: 'accept'; destination: 'local' | 'relay' } | { kind: 'reject'; reply: Reply };

/**
 * At RCPT TO: may this client send to this recipient, and is it ours?
 * `isLocalDomain` says whether the (normalised) domain is one we receive for;
 * address literals are never local, whatever it says.
 */
export function checkRecipient(p: RelayPolicy, client: ClientFacts, rcpt: MailAddress, isLocalDomain: boolean): RecipientVerdict {
  const local = isLocalDomain && !rcpt.ipLiteral;
  const mayRelay = clientMayRelay(p, client);
  // A source route has already been dropped (RFC 5321 C); the other forms would
  // route through us to somewhere the domain part does not say.
  if (rcpt.routing && rcpt.routing !== 'sourceRoute') {
    if (local) return { kind: 'reject', reply: { code: 550, enhanced: '5.7.1', text: 'Sender-specified routing is not supported' } };
    if (!mayRelay) return { kind: 'reject', reply: { code: 554, enhanced: '5.7.1', text: 'Relay access denied' } };
    return { kind: 'accept', destination: 'relay' };
  }
  if (local) return { kind: 'accept', destination: 'local' };
  if (mayRelay || listedForRelay(p, rcpt)) return { kind: 'accept', destination: 'relay' };
  return { kind: 'reject', reply: { code: 554, enhanced: '5.7.1', text: 'Relay access denied' } };
}

// ---------------------------------------------------------------- submission sender

/**
 * An authenticated user may use as MAIL FROM only an address of their own
 * (`own` holds lookup keys); "user+tag" counts as "user". The null sender is
 * refused: a user's client has no business sending bounces.
 */
export function checkSubmissionSender(sender: MailAddress | null, own: ReadonlySet<string>, separator: string): CheckResult {
  if (!sender) return reject(553, '5.7.1', 'Null sender not allowed for authenticated users');
  if (own.has(lookupKey(sender))) return ACCEPT;
  const base = { local: stripSubaddress(sender.local, separator), domain: sender.domain };
  if (own.has(lookupKey(base))) return ACCEPT;
  return reject(553, '5.7.1', 'Sender address not owned by the authenticated user');
}
