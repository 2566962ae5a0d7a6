/**
 * Where each recipient's mail goes: a configured smarthost (per domain, or for
 * all outbound mail) or the recipient domain's MX hosts; and which recipients
 * can share one transaction (the same list of hosts).
 *
 * Rules:
 * - A per-domain smarthost (queue.smarthosts[].domains; "example.org" also
 *   matches its subdomains) wins over the catch-all queue.smarthost, which wins
 *   over MX delivery.
 * - Recipients whose destinations are the same list of hosts travel together,
 *   one connection and one transaction (RFC 5321 allows many RCPT per message).
 * - A malformed address never reaches the wire: it fails here, permanently.
 */
import type { Config, SmarthostConfig } from '../../config/schema.js';
import type { TlsMode } from './connection.js';
import { addressLiteral, lookupMx, type DnsResolver, type MxAnswer } from './dns.js';

/** One host to try, in order. */
export interface HostTarget {
  /** Pool key: one connection limit per host and port. */
  key: string;
  /** Host name (MX exchange, smarthost) or IP literal. */
  name: string;
  port: number;
  tls: TlsMode;
  verifyCertificate: boolean;
  auth?: { user: string; pass: string };
  /** Resolve through our resolver (MX hosts) or let the system do it (smarthost names, e.g. localhost). */
  resolve: 'dns' | 'system';
  smarthost: boolean;
}

export interface Destination {
  key: string;
  /** For logs: "smarthost relay.example:587" or "MX of example.org". */
  label: string;
  hosts: HostTarget[];
}

export interface PlannedGroup<R> {
  destination: Destination;
  recipients: R[];
}

export interface PlanFailure<R> {
  recipient: R;
  temporary: boolean;
  reply: string;
}

const LOCAL_RE = /^(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~\x80-\uFFFF-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\x80-\uFFFF-]+)*|"(?:[\x20\x21\x23-\x5b\x5d-\x7e\x80-\uFFFF]|\\[\x20-\x7e])*")$/;
const LABEL_RE = /^(?!-)[A-Za-z0-9\x80-\uFFFF-]{1,63}(?<!-)$/;

/** The domain of a well-formed address, or null. Rejects anything that could not go into RCPT TO. */
export function recipientDomain(address: string): string | null {
  if (address.length > 320 || /[\s<>\x00-\x1f\x7f]/.test(address.replace(/"(?:[^"\\]|\\.)*"/g, 'q'))) return null;
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1).toLowerCase().replace(/\.$/, '');
  if (local.length > 64 || !LOCAL_RE.test(local)) return null;
  if (domain.startsWith('[')) return addressLiteral(domain) ? domain : null;
  if (domain.length > 253 || !domain.split('.').every((l) => LABEL_RE.test(l)) || !domain.includes('.')) return null;
  return domain;
}

/** Whether the reverse path can go into MAIL FROM ('' is the null sender). */
export function validSender(sender: string): boolean {
  return sender === '' || recipientDomain(sender) !== null;
}

function domainMatches(domain: string, pattern: string): boolean {
  const p = pattern.toLowerCase().replace(/^\*?\.?/, '').replace(/\.$/, '');
  return domain === p || domain.endsWith('.' + p);
}

export function smarthostFor(domain: string, config: Config): SmarthostConfig | null {
  for (const s of config.queue.smarthosts) if (s.domains.some((d) => domainMatches(domain, d))) return s;
  const all = config.queue.smarthost;
  if (all && (all.domains.length === 0 || all.domains.some((d) => domainMatches(domain, d)))) return all;
  return null;
}

const SMARTHOST_TLS: Record<SmarthostConfig['tls'], TlsMode> = { starttls: 'required', implicit: 'implicit', opportunistic: 'opportunistic', none: 'none' };

export function smarthostTarget(s: SmarthostConfig): HostTarget {
  return {
    key: `smarthost:${s.host.toLowerCase()}:${s.port}`,
    name: s.host,
    port: s.port,
    tls: SMARTHOST_TLS[s.tls],
    verifyCertificate: !s.insecure,
    auth: s.username ? { user: s.username, pass: s.password ?? '' } : undefined,
    resolve: 'system',
    smarthost: true,
  };
}

/**
 * Group recipients by destination. `mxCache` (per attempt) keeps one lookup per domain.
 * Recipients that cannot be routed come back as failures (permanent or temporary).
 */
export async function planDelivery<R extends { address: string }>(
  recipients: R[],
  opts: { config: Config; resolver: DnsResolver; mxCache?: Map<string, Promise<MxAnswer>> },
): Promise<{ groups: Array<PlannedGroup<R>>; failures: Array<PlanFailure<R>> }> {
  const { config, resolver } = opts;
  const mxCache = opts.mxCache ?? new Map<string, Promise<MxAnswer>>();
  const groups = new Map<string, PlannedGroup<R>>();
  const failures: Array<PlanFailure<R>> = [];
  for (const r of recipients) {
    const domain = recipientDomain(r.address);
    if (!domain) {
      failures.push({ recipient: r, temporary: false, reply: `553 5.1.3 Bad recipient address syntax: ${JSON.stringify(r.address).slice(0, 200)}` });
      continue;
    }
    const smart = smarthostFor(domain, config);
    let destination: Destination;
    if (smart) {
      const target = smarthostTarget(smart);
      destination = { key: target.key, label: `smarthost ${smart.host}:${smart.port}`, hosts: [target] };
    } else {
      let lookup = mxCache.get(domain);
      if (!lookup) {
        lookup = lookupMx(resolver, domain);
        mxCache.set(domain, lookup);
      }
      const mx = await lookup;
      if (!mx.ok) {
        failures.push({ recipient: r, temporary: mx.temporary, reply: mx.reply });
        continue;
      }
      const port = config.queue.remotePort;
      const hosts = mx.hosts.map(
        (h): HostTarget => ({ key: `${h.name}:${port}`, name: h.name, port, tls: 'opportunistic', verifyCertificate: false, resolve: 'dns', smarthost: false }),
      );
      destination = { key: hosts.map((h) => h.key).join(','), label: `MX of ${domain}`, hosts };
    }
    const g = groups.get(destination.key);
    if (g) g.recipients.push(r);
    else groups.set(destination.key, { destination, recipients: [r] });
  }
  return { groups: [...groups.values()], failures };
}
