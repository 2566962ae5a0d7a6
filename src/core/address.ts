/**
 * Mail addresses as SMTP sees them (RFC 5321 4.1.2 Mailbox, RFC 6531 for UTF-8
 * local parts): parsing, normalisation for lookups, sub-addressing, and the
 * detection of sender-specified routing.
 *
 * Why the routing detection matters: an open relay is usually made not by a
 * wrong relay rule but by an address the relay check reads one way and a later
 * hop reads another. The classic forms are the percent hack
 * (`user%remote@local`), UUCP bang paths (`remote!user@local`), source routes
 * (`@local:user@remote`) and quoted local parts hiding an `@`
 * (`"user@remote"@local`). mailroom never honours any of them: the source route
 * is dropped as RFC 5321 C allows, and a local part carrying `%`, `!` or `@` is
 * reported so policy can refuse it instead of guessing.
 *
 * Pure: no DNS, no store.
 */
import { domainToASCII } from 'node:url';
import { formatIp, parseIp } from './cidr.js';

export type RoutingTrick = 'sourceRoute' | 'percent' | 'bang' | 'atInLocalPart';

export interface MailAddress {
  /** Local part, unquoted: the mailbox name as the domain's owner sees it. Case kept. */
  local: string;
  /** Lower-case ASCII (A-labels), no trailing dot; or an address literal "[192.0.2.1]" / "[IPv6:2001:db8::1]". */
  domain: string;
  /** The domain is an address literal rather than a name. */
  ipLiteral: boolean;
  /** Routing the sender tried to put inside the address (the first one found), or null. */
  routing: RoutingTrick | null;
}

export type ParseResult = { ok: true; address: MailAddress } | { ok: false; reason: string };

// RFC 5322 atext, plus any non-ASCII character (RFC 6531 UTF8-non-ascii).
const ATEXT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\u{10FFFF}-]+$/u;
const CONTROL = /[\x00-\x1f\x7f]/;

function validDotAtom(s: string): boolean {
  if (!s) return false;
  return s.split('.').every((atom) => atom.length > 0 && ATEXT.test(atom));
}

/** Normalise a domain name: lower-case A-labels, trailing dot removed. Null if it is not a valid name. */
export function normalizeDomain(input: string): string | null {
  let d = input.trim();
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (!d || d.length > 253 || d.includes('..')) return null;
  const ascii = domainToASCII(d.toLowerCase());
  if (!ascii || ascii.length > 253) return null;
  const labels = ascii.split('.');
  for (const l of labels) {
    if (l.length < 1 || l.length > 63) return null;
    if (!/^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/.test(l)) return null;
  }
  return ascii;
}

function parseDomainPart(input: string): { domain: string; ipLiteral: boolean } | null {
  if (input.startsWith('[')) {
    if (!input.endsWith(']')) return null;
    const ip = parseIp(input);
    if (!ip) return null;
    return { domain: ip.family === 4 ? `[${formatIp(ip)}]` : `[IPv6:${formatIp(ip)}]`, ipLiteral: true };
  }
  const domain = normalizeDomain(input);
  return domain ? { domain, ipLiteral: false } : null;
}

/** Split a quoted local part off the front: returns [content, rest] or null if unterminated. */
function readQuoted(s: string): [string, string] | null {
  let out = '';
  for (let i = 1; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      if (i + 1 >= s.length) return null;
      out += s[++i];
    } else if (c === '"') {
      return [out, s.slice(i + 1)];
    } else {
      out += c;
    }
  }
  return null;
}

/**
 * Parse a forward- or reverse-path mailbox: "local@domain", optionally in angle
 * brackets and behind a source route. The null path "" is not a mailbox (callers
 * handle it before calling).
 */
export function parseMailbox(input: string): ParseResult {
  let s = input.trim();
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1).trim();
  if (!s) return { ok: false, reason: 'empty address' };
  if (CONTROL.test(s)) return { ok: false, reason: 'control characters in address' };

  let routing: RoutingTrick | null = null;
  // RFC 5321 4.1.2 A-d-l: "@host1,@host2:" before the mailbox; accepted and ignored (appendix C).
  const sourceRoute = /^@[^:,@\s]+(?:,\s*@[^:,@\s]+)*:/.exec(s);
  if (sourceRoute) {
    routing = 'sourceRoute';
    s = s.slice(sourceRoute[0].length);
  }

  let local: string;
  let domainText: string;
  if (s.startsWith('"')) {
    const q = readQuoted(s);
    if (!q) return { ok: false, reason: 'unterminated quoted local part' };
    const [content, rest] = q;
    if (!rest.startsWith('@')) return { ok: false, reason: 'missing domain' };
    if (CONTROL.test(content)) return { ok: false, reason: 'control characters in local part' };
    local = content;
    domainText = rest.slice(1);
    if (local.includes('@')) routing ??= 'atInLocalPart';
  } else {
    const at = s.lastIndexOf('@');
    if (at <= 0) return { ok: false, reason: at === 0 ? 'empty local part' : 'missing domain' };
    local = s.slice(0, at);
    domainText = s.slice(at + 1);
    if (!validDotAtom(local)) return { ok: false, reason: 'invalid local part' };
  }
  if (!local) return { ok: false, reason: 'empty local part' };
  if (local.includes('%')) routing ??= 'percent';
  if (local.includes('!')) routing ??= 'bang';

  const d = parseDomainPart(domainText);
  if (!d) return { ok: false, reason: 'invalid domain' };
  return { ok: true, address: { local, domain: d.domain, ipLiteral: d.ipLiteral, routing } };
}

/** "local@domain", quoting the local part only when it is not a dot-atom. */
export function formatAddress(a: Pick<MailAddress, 'local' | 'domain'>): string {
  const local = validDotAtom(a.local) ? a.local : `"${a.local.replace(/(["\\])/g, '\\$1')}"`;
  return `${local}@${a.domain}`;
}

/** The key addresses are looked up by: the whole address in lower case. */
export function lookupKey(a: Pick<MailAddress, 'local' | 'domain'>): string {
  return formatAddress({ local: a.local.toLowerCase(), domain: a.domain });
}

/**
 * "user+tag" → "user" for separator "+". A local part that starts with the
 * separator (e.g. "+tag") is left alone: there is no user to strip it down to.
 */
export function stripSubaddress(local: string, separator: string): string {
  if (!separator) return local;
  const i = local.indexOf(separator);
  return i > 0 ? local.slice(0, i) : local;
}

/** True if `domain` is `parent` or a subdomain of it (both normalised). */
export function domainWithin(domain: string, parent: string): boolean {
  return domain === parent || domain.endsWith(`.${parent}`);
}

/** Domain of an address string after normalisation, or null. */
export function domainOf(address: string): string | null {
  const r = parseMailbox(address);
  return r.ok ? r.address.domain : null;
}
