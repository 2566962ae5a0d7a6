/**
 * Multi-drop: who a message in a shared provider mailbox was meant for.
 *
 * A provider that collects a whole firm's mail in one mailbox loses the SMTP
 * envelope, so the recipients are read back from headers, most trustworthy
 * first (the same order fetchmail's multidrop mode and getmail's MultiDrop
 * retrievers use):
 *
 *   1. Delivered-To      (topmost: added by the provider's final delivery)
 *   2. X-Original-To     (topmost: Postfix's recipient before alias rewriting)
 *   3. Envelope-To / X-Envelope-To (topmost: Exim, qmail)
 *   4. To and Cc, with the `for` clause of the newest Received line
 *
 * The first tier that names at least one local address wins. Tiers 1-3 are
 * envelope information: every address in them was a real recipient of this
 * copy, so one that is not local goes to the fallback user. Tier 4 is what the
 * sender wrote: To/Cc commonly list outside parties who got their own copies,
 * so non-local addresses there are ignored. When no tier names a local
 * address, the message goes to the fallback user alone. Nothing is ever sent
 * back out or dropped.
 *
 * Pure: bytes in, addresses out; the caller decides what "local" means.
 */

export type RecipientSource = 'delivered-to' | 'x-original-to' | 'envelope-to' | 'headers';

export interface RecipientTier {
  source: RecipientSource;
  /** True for envelope headers (tiers 1-3). */
  envelope: boolean;
  /** Lower-cased addr-specs, deduplicated, in header order. */
  addresses: string[];
}

export interface RecipientChoice {
  /** The tier that decided (null: none named a local address). */
  source: RecipientSource | null;
  /** Local addresses to deliver to. */
  local: string[];
  /** Envelope recipients that are not local (they go to the fallback user). */
  nonLocal: string[];
  /** Whether the fallback user must receive a copy (non-local recipients, or no local one at all). */
  fallback: boolean;
}

export interface HeaderField {
  /** Lower-case name. */
  name: string;
  /** Unfolded value, leading whitespace removed. */
  value: string;
}

/** Largest header section we read; a message with more is judged on its first part. */
export const MAX_HEADER_BYTES = 256 * 1024;

/** The header section of a raw message (up to the first empty line), as text. */
export function headerSection(raw: Buffer | string, max = MAX_HEADER_BYTES): string {
  const buf = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  const head = buf.subarray(0, Math.min(buf.length, max));
  // A message that starts with an empty line has no header at all.
  if (head[0] === 10 || (head[0] === 13 && head[1] === 10)) return '';
  const crlf = head.indexOf('\r\n\r\n');
  const lf = head.indexOf('\n\n');
  let end = head.length;
  if (crlf !== -1) end = crlf + 2;
  if (lf !== -1 && lf + 1 < end) end = lf + 1;
  return head.subarray(0, end).toString('utf8');
}

/** Header fields in order (topmost first), unfolded; lines that are not fields are skipped. */
export function parseHeaderFields(section: string): HeaderField[] {
  const fields: HeaderField[] = [];
  let current: { name: string; parts: string[] } | null = null;
  const flush = () => {
    if (current) fields.push({ name: current.name, value: current.parts.join('').replace(/^[ \t]+/, '').replace(/[ \t]+$/, '') });
    current = null;
  };
  for (const line of section.split(/\r?\n/)) {
    if (line === '') continue;
    if ((line[0] === ' ' || line[0] === '\t') && current) {
      (current as { parts: string[] }).parts.push(line);
      continue;
    }
    flush();
    const m = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:(.*)$/.exec(line);
    if (m) current = { name: m[1]!.toLowerCase(), parts: [m[2]!] };
  }
  flush();
  return fields;
}

/**
 * The addr-specs of an RFC 5322 address-list (To, Cc, Delivered-To, ...):
 * display names, comments, groups and obsolete routes are dropped; what is
 * left must look like local@domain. Lower-cased; never throws.
 */
export function parseAddressList(value: string): string[] {
  const out: string[] = [];
  let text = ''; // current element, comments removed, quotes kept
  let angle: string | null = null; // content of <...> in the current element
  let inAngle = false;
  let quoted = false;
  let depth = 0; // comment nesting
  const end = () => {
    const candidate = angle ?? text;
    const addr = normaliseAddress(candidate);
    if (addr) out.push(addr);
    text = '';
    angle = null;
  };
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (quoted) {
      if (ch === '\\' && i + 1 < value.length) {
        const next = value[++i]!;
        if (inAngle) angle += '\\' + next;
        else text += '\\' + next;
        continue;
      }
      if (ch === '"') quoted = false;
      if (inAngle) angle += ch;
      else text += ch;
      continue;
    }
    if (depth > 0) {
      if (ch === '\\') i++;
      else if (ch === '(') depth++;
      else if (ch === ')') depth--;
      continue;
    }
    switch (ch) {
      case '(':
        depth = 1;
        continue;
      case '"':
        quoted = true;
        if (inAngle) angle += ch;
        else text += ch;
        continue;
      case '<':
        if (!inAngle) {
          inAngle = true;
          angle = '';
          continue;
        }
        break;
      case '>':
        if (inAngle) {
          inAngle = false;
          continue;
        }
        break;
      case ',':
        if (!inAngle) {
          end();
          continue;
        }
        break;
      case ':':
        // "Group name:" starts a group; inside <...> it ends an obsolete route.
        if (inAngle) {
          angle = '';
          continue;
        }
        text = '';
        angle = null;
        continue;
      case ';':
        if (!inAngle) {
          end();
          continue;
        }
        break;
    }
    if (inAngle) angle += ch;
    else text += ch;
  }
  end();
  return dedupe(out);
}

/**
 * Normalises one addr-spec: whitespace and a pointless pair of quotes around a
 * plain local part removed, domain lower-cased without a trailing dot.
 * Null when it is not local@domain.
 */
export function normaliseAddress(candidate: string): string | null {
  let s = candidate.trim();
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1).trim();
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return null;
  let local = s.slice(0, at).trim();
  let domain = s.slice(at + 1).trim().toLowerCase();
  if (domain.endsWith('.')) domain = domain.slice(0, -1);
  if (!/^(?:[^\s@<>()[\]\\,;:"]+|\[[^\]\s]+\])$/.test(domain) || domain.startsWith('.') || domain.includes('..')) return null;
  const q = /^"((?:[^"\\]|\\.)*)"$/.exec(local);
  if (q) {
    const inner = q[1]!.replace(/\\(.)/g, '$1');
    // Quotes around a dot-atom change nothing (RFC 5321 4.1.2); keep them otherwise.
    if (/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+)*$/.test(inner)) local = inner;
  } else {
    // "John Smith john@example.org" (brackets forgotten): the address is the last word.
    local = local.split(/\s+/).pop() ?? '';
    if (local === '' || /[<>()[\]\\,;:@"]/.test(local)) return null;
  }
  return `${local.toLowerCase()}@${domain}`;
}

/** The `for` recipient(s) of a Received field (RFC 5321 4.4), ignoring its date. */
export function receivedFor(value: string): string[] {
  const semi = value.lastIndexOf(';');
  const clauses = semi === -1 ? value : value.slice(0, semi);
  // Comments may themselves contain "for"; look outside them.
  const bare = stripComments(clauses);
  const m = /(?:^|\s)for\s+((?:<[^<>]*>|[^\s<>;]+)(?:\s*,\s*(?:<[^<>]*>|[^\s<>;]+))*)/i.exec(bare);
  if (!m) return [];
  return parseAddressList(m[1]!);
}

/** Return-Path of the newest hop: the sender to hand route() as MAIL FROM ('' for <>). */
export function returnPath(fields: HeaderField[]): string {
  const rp = fields.find((f) => f.name === 'return-path');
  if (!rp) return '';
  if (/^<\s*>$/.test(rp.value.trim())) return '';
  return parseAddressList(rp.value)[0] ?? '';
}

/** The recipient tiers of a message, most trustworthy first; empty tiers omitted. */
export function recipientTiers(fieldsOrRaw: HeaderField[] | Buffer | string): RecipientTier[] {
  const fields = Array.isArray(fieldsOrRaw) ? fieldsOrRaw : parseHeaderFields(headerSection(fieldsOrRaw));
  const topmost = (...names: string[]) => {
    const f = fields.find((h) => names.includes(h.name));
    return f ? parseAddressList(f.value) : [];
  };
  const tiers: RecipientTier[] = [];
  const push = (source: RecipientSource, envelope: boolean, addresses: string[]) => {
    if (addresses.length > 0) tiers.push({ source, envelope, addresses: dedupe(addresses) });
  };
  push('delivered-to', true, topmost('delivered-to'));
  push('x-original-to', true, topmost('x-original-to'));
  push('envelope-to', true, topmost('envelope-to', 'x-envelope-to'));
  const headers: string[] = [];
  for (const f of fields) if (f.name === 'to' || f.name === 'cc') headers.push(...parseAddressList(f.value));
  const received = fields.find((f) => f.name === 'received');
  if (received) headers.push(...receivedFor(received.value));
  push('headers', false, headers);
  return tiers;
}

/** Picks the recipients from the tiers, given which addresses are local. */
export function chooseRecipients(tiers: RecipientTier[], isLocal: (address: string) => boolean): RecipientChoice {
  for (const tier of tiers) {
    const local = tier.addresses.filter((a) => isLocal(a));
    if (local.length === 0) continue;
    const nonLocal = tier.envelope ? tier.addresses.filter((a) => !isLocal(a)) : [];
    return { source: tier.source, local, nonLocal, fallback: nonLocal.length > 0 };
  }
  return { source: null, local: [], nonLocal: [], fallback: true };
}

/** Every distinct address named in any tier (what the caller must look up). */
export function candidateAddresses(tiers: RecipientTier[]): string[] {
  return dedupe(tiers.flatMap((t) => t.addresses));
}

function stripComments(s: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (depth === 0 && ch === '"') quoted = !quoted;
    if (!quoted && ch === '(') {
      depth++;
      continue;
    }
    if (!quoted && ch === ')' && depth > 0) {
      depth--;
      out += ' ';
      continue;
    }
    if (depth === 0) out += ch;
    else if (ch === '\\') i++;
  }
  return out;
}

function dedupe(list: string[]): string[] {
  return [...new Set(list)];
}
