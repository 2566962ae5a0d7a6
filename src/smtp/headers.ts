/**
 * The header lines SMTP reads and writes: a light parse of the incoming
 * header block (which fields exist, how many Received hops, the From:
 * addresses), and the fields mailroom prepends: Received (RFC 5321 4.4),
 * Message-ID and Date for submissions that lack them (RFC 6409 8), and
 * Authentication-Results (RFC 8601) from authenticate.ts.
 */
import { randomBytes } from 'node:crypto';
import { rfc5322Date } from '../core/dsn.js';

export interface HeaderField {
  /** Lower-case name. */
  name: string;
  /** The whole field as it stood, CRLF included (folded lines kept). */
  raw: string;
  /** Unfolded value, trimmed. */
  value: string;
}

/** Split a header block (CRLF line ends) into fields; junk lines without a colon are kept as nameless. */
export function parseHeaderFields(block: Buffer | string): HeaderField[] {
  const text = typeof block === 'string' ? block : block.toString('latin1');
  const fields: HeaderField[] = [];
  const lines = text.split(/(?<=\r\n)/);
  for (const line of lines) {
    if (line === '' || line === '\r\n') continue;
    if ((line[0] === ' ' || line[0] === '\t') && fields.length > 0) {
      const f = fields[fields.length - 1]!;
      f.raw += line;
      f.value = `${f.value} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '';
    fields.push({ name, raw: line, value: colon > 0 ? line.slice(colon + 1).trim() : line.trim() });
  }
  return fields;
}

export function countFields(fields: HeaderField[], name: string): number {
  return fields.filter((f) => f.name === name).length;
}

export function hasField(fields: HeaderField[], name: string): boolean {
  return fields.some((f) => f.name === name);
}

/**
 * The addr-specs of an address-list header value (From:, Sender:), without
 * display names and comments. Enough for comparing against a user's addresses;
 * group syntax and quoted local parts are handled, encoded words are ignored.
 */
export function addressesIn(value: string): string[] {
  const out: string[] = [];
  // Drop comments (not nested deeper than one level in practice) and quoted display names.
  const cleaned = value.replace(/\((?:[^()\\]|\\.)*\)/g, ' ');
  const angle = [...cleaned.matchAll(/<([^<>]*)>/g)].map((m) => m[1]!.trim());
  if (angle.length) return angle.filter(Boolean);
  for (const part of cleaned.replace(/^[^:]*:(?=[^@]*@)/, '').split(/[,;]/)) {
    const t = part.trim();
    if (t.includes('@')) out.push(t);
  }
  return out;
}

/** Authentication-Results fields that claim to come from us must go (RFC 8601 5). */
export function isOwnAuthResults(field: HeaderField, authservId: string): boolean {
  if (field.name !== 'authentication-results') return false;
  const id = field.value.split(';')[0]!.trim().split(/\s+/)[0]!.toLowerCase();
  return id === authservId.toLowerCase();
}

export function newMessageId(hostname: string): string {
  return `<${Date.now().toString(36)}.${randomBytes(9).toString('base64url')}@${hostname}>`;
}

export interface ReceivedInfo {
  heloName: string | null;
  clientHostname: string | null;
  clientIp: string;
  hostname: string;
  /** ESMTP, ESMTPS, ESMTPSA... (RFC 3848). */
  protocol: string;
  id: string;
  /** TLS protocol and cipher, when the session was encrypted. */
  tls?: { version?: string | null; cipher?: string | null } | null;
  /** The single recipient, if there is exactly one (more would disclose Bcc). */
  recipient?: string | null;
  date: Date;
}

/** One Received field, folded, CRLF-terminated. */
export function receivedHeader(r: ReceivedInfo): string {
  const literal = r.clientIp.includes(':') ? `IPv6:${r.clientIp}` : r.clientIp;
  const hostPart = r.clientHostname && !r.clientHostname.startsWith('[') ? `${r.clientHostname} ` : '';
  let by = `by ${r.hostname} (mailroom) with ${r.protocol}`;
  if (r.tls?.version || r.tls?.cipher) by += ` (${[r.tls.version, r.tls.cipher].filter(Boolean).join(' ')})`;
  const head = `Received: from ${r.heloName || `[${literal}]`} (${hostPart}[${literal}])\r\n\t${by} id ${r.id}`;
  const date = rfc5322Date(r.date);
  return r.recipient ? `${head}\r\n\tfor <${r.recipient}>; ${date}\r\n` : `${head};\r\n\t${date}\r\n`;
}
