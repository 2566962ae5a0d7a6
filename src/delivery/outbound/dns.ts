/**
 * DNS for outbound delivery: MX lookup in preference order, the implicit MX
 * (RFC 5321 5.1: no MX record → the domain's own A/AAAA), null MX (RFC 7505:
 * the domain accepts no mail → permanent failure), and the address lookup of
 * each mail host. The resolver is injected: config.smtp.dnsServers
 * ("ip" or "ip:port") builds a node:dns Resolver, so tests run their own DNS
 * server on loopback.
 *
 * Outcomes are classified here once: NXDOMAIN and "no such record" are
 * permanent, SERVFAIL, timeouts and refusals are temporary (the queue retries).
 */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

/** The part of node:dns/promises Resolver that delivery uses (tests may pass their own). */
export interface DnsResolver {
  resolveMx(name: string): Promise<Array<{ exchange: string; priority: number }>>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

export function createDnsResolver(servers: string[], opts: { timeoutMs?: number; tries?: number } = {}): DnsResolver {
  const r = new Resolver({ timeout: opts.timeoutMs ?? 5000, tries: opts.tries ?? 2 });
  if (servers.length) r.setServers(servers);
  return r;
}

export interface MailHost {
  /** Host name (no trailing dot), or an IP address for an address literal. */
  name: string;
  preference: number;
  /** No MX record: the domain itself (RFC 5321 5.1). */
  implicit: boolean;
}

/** A DNS failure, phrased as the queue records it: an SMTP-style reply with an enhanced status. */
export interface DnsFailure {
  temporary: boolean;
  reply: string;
}

export type MxAnswer = { ok: true; hosts: MailHost[] } | ({ ok: false } & DnsFailure);
export type AddressAnswer = { ok: true; addresses: string[] } | ({ ok: false } & DnsFailure);

const code = (err: unknown) => (err as { code?: string }).code ?? 'EUNKNOWN';
/** Errors that mean "this name has nothing of this type", as opposed to a failure to find out. */
const NO_RECORDS = new Set(['ENODATA']);
const NO_DOMAIN = new Set(['ENOTFOUND']);

function temporaryDnsFailure(name: string, type: string, err: unknown): DnsFailure {
  const c = code(err);
  const what = c === 'ETIMEOUT' ? 'timed out' : c === 'ESERVFAIL' ? 'server failure (SERVFAIL)' : c === 'EREFUSED' ? 'refused' : c;
  return { temporary: true, reply: `451 4.4.3 Name service error for name=${name} type=${type}: ${what}` };
}

/** Order MX records: lowest preference first; equal preferences in random order (RFC 5321 5.1). */
export function orderMx(records: Array<{ exchange: string; priority: number }>, random: () => number = Math.random): MailHost[] {
  const shuffled = records.map((r) => ({ r, k: random() }));
  shuffled.sort((a, b) => a.r.priority - b.r.priority || a.k - b.k);
  const seen = new Set<string>();
  const hosts: MailHost[] = [];
  for (const { r } of shuffled) {
    const name = r.exchange.replace(/\.$/, '').toLowerCase();
    if (!name || seen.has(name)) continue;
    seen.add(name);
    hosts.push({ name, preference: r.priority, implicit: false });
  }
  return hosts;
}

/** "[192.0.2.1]" or "[IPv6:2001:db8::1]" → the address, else null. */
export function addressLiteral(domain: string): string | null {
  const m = /^\[(?:ipv6:)?([^\]]+)\]$/i.exec(domain);
  if (!m) return null;
  return isIP(m[1]!) ? m[1]! : null;
}

/** The mail hosts of a recipient domain, best first. */
export async function lookupMx(resolver: DnsResolver, domain: string, random?: () => number): Promise<MxAnswer> {
  const literal = addressLiteral(domain);
  if (literal) return { ok: true, hosts: [{ name: literal, preference: 0, implicit: true }] };
  if (domain.startsWith('[')) return { ok: false, temporary: false, reply: `550 5.1.2 Bad address literal [${domain}]` };
  let records: Array<{ exchange: string; priority: number }>;
  try {
    records = await resolver.resolveMx(domain);
  } catch (err) {
    if (NO_RECORDS.has(code(err))) return { ok: true, hosts: [{ name: domain, preference: 0, implicit: true }] };
    if (NO_DOMAIN.has(code(err))) return { ok: false, temporary: false, reply: `550 5.1.2 Host or domain name not found. Name service error for name=${domain} type=MX: Host not found` };
    return { ok: false, ...temporaryDnsFailure(domain, 'MX', err) };
  }
  if (records.length === 0) return { ok: true, hosts: [{ name: domain, preference: 0, implicit: true }] };
  const isNull = (r: { exchange: string }) => r.exchange === '' || r.exchange === '.';
  // RFC 7505 3: a null MX is the only MX of its domain; one mixed with others is ignored.
  if (records.every(isNull)) return { ok: false, temporary: false, reply: `556 5.1.10 Recipient address rejected: Domain ${domain} does not accept mail (nullMX)` };
  return { ok: true, hosts: orderMx(records.filter((r) => !isNull(r)), random) };
}

/** Addresses of one mail host, IPv4 first (loopback and most networks here reach v4). */
export async function lookupAddresses(resolver: DnsResolver, host: string): Promise<AddressAnswer> {
  if (isIP(host)) return { ok: true, addresses: [host] };
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const addresses = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  if (addresses.length) return { ok: true, addresses };
  const errors = [v4, v6].map((r) => (r.status === 'rejected' ? r.reason : null));
  const temporary = errors.find((e) => e && !NO_RECORDS.has(code(e)) && !NO_DOMAIN.has(code(e)));
  if (temporary) return { ok: false, ...temporaryDnsFailure(host, 'A', temporary) };
  return { ok: false, temporary: false, reply: `550 5.4.4 Host or domain name not found. Name service error for name=${host} type=A: Host not found` };
}

/**
 * A resolver that remembers answers for a short while (node's resolver keeps
 * no cache, and a queue run asks the same MX question for every message to a
 * domain). Answers and "no such name/record" are kept for ttlMs; failures to
 * find out (SERVFAIL, timeouts) are not kept, so the next attempt asks again.
 * Concurrent identical questions share one query.
 */
export function cachedResolver(inner: DnsResolver, ttlMs = 30_000): DnsResolver {
  const cache = new Map<string, { until: number; value: Promise<unknown> }>();
  const ask = <T>(key: string, q: () => Promise<T>): Promise<T> => {
    const hit = cache.get(key);
    if (hit && hit.until > Date.now()) return hit.value as Promise<T>;
    const value = q();
    cache.set(key, { until: Date.now() + ttlMs, value });
    value.catch((err) => {
      if (!NO_RECORDS.has(code(err)) && !NO_DOMAIN.has(code(err)) && cache.get(key)?.value === value) cache.delete(key);
    });
    if (cache.size > 10_000) for (const [k, v] of cache) if (v.until <= Date.now()) cache.delete(k);
    return value;
  };
  return {
    resolveMx: (name) => ask(`MX ${name}`, () => inner.resolveMx(name)),
    resolve4: (name) => ask(`A ${name}`, () => inner.resolve4(name)),
    resolve6: (name) => ask(`AAAA ${name}`, () => inner.resolve6(name)),
  };
}
