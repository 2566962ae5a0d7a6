/**
 * Inbound message authentication (SPF RFC 7208, DKIM RFC 6376, DMARC RFC 7489,
 * ARC RFC 8617) through mailauth, and the DNS it resolves with.
 *
 * - DNS goes through an injectable resolver: config smtp.dnsServers
 *   ("ip" or "ip:port") makes a node:dns Resolver on those servers, so tests
 *   run their own DNS server on loopback; empty means the system resolver.
 * - The result is the header block to prepend (Received-SPF and
 *   Authentication-Results, RFC 8601, with our host name as authserv-id),
 *   plus whether DMARC asks for rejection.
 * - A DNS failure never loses a message: mailauth reports temperror, the
 *   header says so, and the message is accepted.
 */
import { Resolver } from 'node:dns/promises';
import type { Readable } from 'node:stream';
import { authenticate, type DNSResolver } from 'mailauth';

export type DnsResolve = DNSResolver;

/** A resolver on the given servers, or the system's when the list is empty. */
export function createDnsResolver(servers: string[], timeoutMs = 3000): DnsResolve {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers.length > 0) resolver.setServers(servers);
  return (name: string, rrtype: string) => resolver.resolve(name, rrtype) as Promise<string[][] | string[]>;
}

/** Reverse lookups for smtp-server's client hostname, on the same servers. */
export function createReverseResolver(servers: string[], timeoutMs = 1500): { reverse(ip: string, cb: (err: Error | null, names?: string[]) => void): void } {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  if (servers.length > 0) resolver.setServers(servers);
  return {
    reverse(ip, cb) {
      resolver.reverse(ip).then(
        (names) => cb(null, names),
        (err: Error) => cb(err),
      );
    },
  };
}

export interface AuthenticationOutcome {
  /** Header lines to prepend, CRLF-terminated. */
  headers: string;
  /** DMARC failed and the sender's domain publishes p=reject. */
  dmarcReject: boolean;
  /** Short results for the log line. */
  summary: { spf: string; dkim: string; dmarc: string; arc: string };
}

export async function authenticateMessage(
  input: Readable | Buffer,
  opts: { ip: string; helo: string; sender: string; mta: string; resolver: DnsResolve },
): Promise<AuthenticationOutcome> {
  const res = await authenticate(input, {
    ip: opts.ip,
    helo: opts.helo,
    sender: opts.sender,
    mta: opts.mta,
    resolver: opts.resolver,
    disableBimi: true,
  });
  const dmarc = res.dmarc || null;
  const dmarcResult = dmarc ? dmarc.status.result : 'none';
  const dmarcReject = !!dmarc && dmarcResult === 'fail' && dmarc.policy === 'reject';
  const dkim = (res.dkim?.results ?? []).map((r) => r.status.result);
  return {
    headers: res.headers,
    dmarcReject,
    summary: {
      spf: res.spf ? res.spf.status.result : 'none',
      dkim: dkim.length ? dkim.join(',') : 'none',
      dmarc: dmarcResult,
      arc: res.arc ? res.arc.status.result : 'none',
    },
  };
}
