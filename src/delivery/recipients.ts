/**
 * What a recipient address means to this server: local users (after
 * sub-addressing, aliases, catch-alls and forwarding), external addresses, or
 * nothing. Shared by SMTP at RCPT time (so an unknown local address is refused
 * before the message is sent) and by route() at delivery time.
 *
 * Rules kept here:
 * - Lookup is by the whole address with a lower-case domain and local part;
 *   "user+tag@d" reaches "user@d" unless "user+tag@d" itself exists (config
 *   smtp.subaddressSeparator; "" turns it off). A catch-all answers only when
 *   neither the full nor the stripped address exists.
 * - The domainless "postmaster" and "postmaster@<our domain>" always reach
 *   someone (RFC 5321 4.5.1): an explicit address or alias if there is one,
 *   else the first administrator.
 * - Aliases and forwards expand recursively; each address is expanded once per
 *   message (diamonds are deduplicated, cycles end), and past MAX_DEPTH levels
 *   the recipient fails as a routing loop.
 */
import { formatAddress, lookupKey, parseMailbox, stripSubaddress, type MailAddress } from '../core/address.js';
import type { Recipient, Store, User } from '../store/types.js';

export const MAX_DEPTH = 10;

export type Resolution =
  /** Ours: deliver to these users' INBOXes and hand `external` to the queue (either may be empty, not both). */
  | { kind: 'local'; users: User[]; external: string[] }
  /** Not one of our domains. */
  | { kind: 'remote'; address: string }
  /** One of our domains, but no such address. */
  | { kind: 'unknown' }
  /** Aliases/forwards that go round in circles or nest too deep. */
  | { kind: 'loop' }
  | { kind: 'invalid'; reason: string };

export interface ResolveOptions {
  /** Sub-address separator ("" = off). */
  separator: string;
  /** Is this (normalised) domain one of ours? Defaults to store.getDomain. */
  isLocalDomain?: (domain: string) => Promise<boolean>;
}

function isCatchAll(r: Recipient): boolean {
  return r.kind === 'alias' && r.alias.address.startsWith('@');
}

/** Exact, then without the +tag, then the catch-all (which store.resolveAddress returns last). */
async function lookup(store: Store, a: MailAddress, separator: string): Promise<Recipient> {
  const full = lookupKey(a);
  const r1 = await store.resolveAddress(full);
  if (r1.kind !== 'none' && !isCatchAll(r1)) return r1;
  const base = stripSubaddress(a.local, separator);
  if (base !== a.local) {
    const r2 = await store.resolveAddress(lookupKey({ local: base, domain: a.domain }));
    if (r2.kind !== 'none' && !isCatchAll(r2)) return r2;
  }
  // Someone may have been created with capitals in the local part; try it as written.
  if (a.local !== a.local.toLowerCase()) {
    const r3 = await store.resolveAddress(`${a.local}@${a.domain}`);
    if (r3.kind !== 'none' && !isCatchAll(r3)) return r3;
  }
  if (r1.kind !== 'none') return r1;
  if (a.local.toLowerCase() === 'postmaster') return postmasterFallback(store);
  return r1;
}

async function postmasterFallback(store: Store): Promise<Recipient> {
  const admin = (await store.listUsers()).find((u) => u.isAdmin && u.enabled);
  return admin ? { kind: 'user', user: admin, address: admin.address } : { kind: 'none' };
}

export function defaultIsLocalDomain(store: Store): (domain: string) => Promise<boolean> {
  return async (domain) => (await store.getDomain(domain)) !== null;
}

/**
 * Resolve one recipient as given by a client. The domainless "postmaster"
 * (RFC 5321 4.1.1.3) is accepted: an explicit postmaster@ one of our domains,
 * else the first administrator.
 */
export async function resolveRecipient(store: Store, address: string, opts: ResolveOptions): Promise<Resolution> {
  const isLocalDomain = opts.isLocalDomain ?? defaultIsLocalDomain(store);
  let a: MailAddress;
  if (address.trim().toLowerCase() === 'postmaster') {
    // An explicit postmaster@ of one of our domains (not a catch-all), else the first administrator.
    let found: string | null = null;
    for (const d of await store.listDomains()) {
      const r = await store.resolveAddress(`postmaster@${d.name}`);
      if (r.kind !== 'none' && !isCatchAll(r)) {
        found = d.name;
        break;
      }
    }
    if (!found) {
      const r = await postmasterFallback(store);
      return r.kind === 'user' ? { kind: 'local', users: r.user.enabled ? [r.user] : [], external: [] } : { kind: 'unknown' };
    }
    a = { local: 'postmaster', domain: found, ipLiteral: false, routing: null };
  } else {
    const p = parseMailbox(address);
    if (!p.ok) return { kind: 'invalid', reason: p.reason };
    a = p.address;
  }
  if (a.ipLiteral || !(await isLocalDomain(a.domain))) return { kind: 'remote', address: lookupKey(a) };
  if (a.routing && a.routing !== 'sourceRoute') return { kind: 'unknown' };

  const users = new Map<number, User>();
  const external = new Map<string, string>();
  const seen = new Set<string>();
  let loop = false;

  // Returns false if `addr` leads nowhere (unknown local address).
  const expand = async (addr: MailAddress, depth: number): Promise<boolean> => {
    if (depth > MAX_DEPTH) {
      loop = true;
      return false;
    }
    const key = lookupKey(addr);
    if (seen.has(key)) return true; // already expanded for this message: a diamond or a cycle
    seen.add(key);
    if (addr.ipLiteral || !(await isLocalDomain(addr.domain))) {
      external.set(key, formatExternal(addr));
      return true;
    }
    const r = await lookup(store, addr, opts.separator);
    if (r.kind === 'none') return false;
    if (r.kind === 'user') return expandUser(r.user, depth);
    let any = false;
    for (const t of r.alias.targets) {
      const p = parseMailbox(t);
      if (!p.ok) continue;
      if (await expand(p.address, depth + 1)) any = true;
    }
    return any;
  };

  const expandUser = async (user: User, depth: number): Promise<boolean> => {
    const ukey = `user:${user.id}`;
    if (seen.has(ukey)) return true;
    seen.add(ukey);
    if (user.forwardTo.length === 0) {
      users.set(user.id, user);
      return true;
    }
    if (user.keepCopy) users.set(user.id, user);
    let any = user.keepCopy;
    const own = parseMailbox(user.address);
    const ownKey = own.ok ? lookupKey(own.address) : user.address.toLowerCase();
    for (const f of user.forwardTo) {
      const p = parseMailbox(f);
      if (!p.ok) continue;
      // Forwarding to one's own address means "keep it here".
      if (lookupKey(p.address) === ownKey) {
        users.set(user.id, user);
        any = true;
        continue;
      }
      if (await expand(p.address, depth + 1)) any = true;
    }
    if (!any) {
      // Every forward led nowhere: keep the message rather than lose it.
      users.set(user.id, user);
    }
    return true;
  };

  const found = await expand(a, 0);
  // Found but empty: every path ended in an address already expanded, i.e. a cycle.
  if (users.size === 0 && external.size === 0) return loop || found ? { kind: 'loop' } : { kind: 'unknown' };
  return { kind: 'local', users: [...users.values()], external: [...external.values()] };
}

function formatExternal(a: MailAddress): string {
  return formatAddress(a);
}

export interface RcptReply {
  code: number;
  enhanced: string;
  text: string;
}

export type RcptCheck = { kind: 'accept'; resolution: Resolution } | { kind: 'reject' | 'tempfail'; reply: RcptReply };

/**
 * The RCPT-time answer for an address in one of our domains: 550 5.1.1 for an
 * unknown address, 550 5.2.1 when every mailbox it reaches is disabled, 452
 * 4.2.2 when every mailbox it reaches is full (RFC 5321 4.5.3.1.10: a full
 * mailbox is a temporary condition for the client). `size` is the MAIL FROM
 * SIZE= declaration, when the client gave one.
 */
export async function checkRecipientAtRcpt(store: Store, address: string, opts: ResolveOptions & { size?: number }): Promise<RcptCheck> {
  const resolution = await resolveRecipient(store, address, opts);
  switch (resolution.kind) {
    case 'invalid':
      return { kind: 'reject', reply: { code: 501, enhanced: '5.1.3', text: `Bad recipient address syntax: ${resolution.reason}` } };
    case 'unknown':
      return { kind: 'reject', reply: { code: 550, enhanced: '5.1.1', text: 'No such user here' } };
    case 'loop':
      return { kind: 'reject', reply: { code: 550, enhanced: '5.4.6', text: 'Routing loop detected for this address' } };
    case 'remote':
      return { kind: 'accept', resolution };
  }
  if (resolution.external.length > 0) return { kind: 'accept', resolution };
  const enabled = resolution.users.filter((u) => u.enabled);
  if (enabled.length === 0) return { kind: 'reject', reply: { code: 550, enhanced: '5.2.1', text: 'Mailbox disabled' } };
  for (const u of enabled) {
    if (u.quota <= 0) return { kind: 'accept', resolution };
    const q = await store.quota(u.id);
    const limit = q.limit > 0 ? q.limit : u.quota;
    const fits = opts.size ? q.used + opts.size <= limit : q.used < limit;
    if (limit <= 0 || fits) return { kind: 'accept', resolution };
  }
  return { kind: 'tempfail', reply: { code: 452, enhanced: '4.2.2', text: 'Mailbox full' } };
}
