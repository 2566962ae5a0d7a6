/**
 * What IMAP FETCH BODY[section] / BINARY[section] needs, from the stored index
 * and the blob's bytes (RFC 3501 section 6.4.5, RFC 9051 section 6.4.5, RFC 3516).
 * Pure: the caller reads the byte ranges from the blob.
 *
 * Part numbering: a multipart's children are 1, 2, ...; a message that is not
 * multipart has only part 1, its body; the parts of an encapsulated message
 * (message/rfc822) are numbered within it ("2.1" is the first part of the
 * message in part 2, or its body when that message is not multipart). As in
 * Dovecot, "N.1" of a part that is neither multipart nor message is the part itself.
 */
import { createDecodeStream, decodeTransferEncoding } from './transfer.js';
import type { Transform } from 'node:stream';
import type { BodyPart, MessageIndex } from './types.js';

export interface ByteRange {
  /** Inclusive start offset in the blob. */
  start: number;
  /** Exclusive end offset. */
  end: number;
}

/** Section text specifiers after the part number (or alone, for the top level). */
export type SectionText = 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';

export interface ParsedSection {
  /** Part numbers, [] for the top level. */
  path: number[];
  text: SectionText | null;
}

/** "1.2.HEADER.FIELDS" → {path:[1,2], text:'HEADER.FIELDS'}; null when malformed. The field list is not part of it. */
export function parseSection(spec: string): ParsedSection | null {
  const t = spec.trim().toUpperCase();
  if (t === '') return { path: [], text: null };
  const top = /^(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT)$/.exec(t);
  if (top !== null) return { path: [], text: top[1] as SectionText };
  const m = /^([1-9][0-9]{0,8}(?:\.[1-9][0-9]{0,8})*)(?:\.(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME))?$/.exec(t);
  if (m === null) return null;
  return { path: m[1]!.split('.').map(Number), text: (m[2] ?? null) as SectionText | null };
}

/** The part a path of part numbers names, or null. `body` is the message's top-level BodyPart. */
export function findPart(body: BodyPart, path: string | number[]): BodyPart | null {
  const nums = typeof path === 'string' ? parsePath(path) : path;
  if (nums === null || nums.length === 0) return null;
  let cur: BodyPart = body;
  let first = true;
  for (const n of nums) {
    if (!Number.isInteger(n) || n < 1) return null;
    // Below the top level, a message/rfc822 part's numbers count within the encapsulated message.
    let container: BodyPart = cur;
    if (!first && cur.message !== undefined) container = cur.message;
    first = false;
    if (container.parts !== undefined) {
      const next = container.parts[n - 1];
      if (next === undefined) return null;
      cur = next;
    } else {
      if (n !== 1) return null;
      cur = container;
    }
  }
  return cur;
}

function parsePath(path: string): number[] | null {
  if (!/^[1-9][0-9]{0,8}(?:\.[1-9][0-9]{0,8})*$/.test(path)) return null;
  return path.split('.').map(Number);
}

/**
 * The byte range of a section: "" (whole message), "HEADER", "TEXT",
 * "HEADER.FIELDS[.NOT]" (the header range; filter it with filterHeaderFields),
 * "1.2", "1.2.MIME", and for message/rfc822 parts "1.2.HEADER", "1.2.TEXT".
 * null when the section does not exist (the IMAP layer answers with an empty
 * string or a BAD, as it sees fit).
 */
export function sectionRange(index: MessageIndex, spec: string | ParsedSection): ByteRange | null {
  const s = typeof spec === 'string' ? parseSection(spec) : spec;
  if (s === null) return null;
  const root = index.body;
  if (s.path.length === 0) {
    switch (s.text) {
      case null:
        return { start: 0, end: root.bodyEnd };
      case 'TEXT':
        return { start: root.bodyStart, end: root.bodyEnd };
      case 'MIME':
        return null;
      default:
        return { start: root.headerStart, end: root.bodyStart };
    }
  }
  const part = findPart(root, s.path);
  if (part === null) return null;
  switch (s.text) {
    case null:
      return { start: part.bodyStart, end: part.bodyEnd };
    case 'MIME':
      return { start: part.headerStart, end: part.bodyStart };
    case 'TEXT':
      return part.message === undefined ? null : { start: part.message.bodyStart, end: part.message.bodyEnd };
    default:
      return part.message === undefined ? null : { start: part.message.headerStart, end: part.message.bodyStart };
  }
}

/**
 * HEADER.FIELDS / HEADER.FIELDS.NOT: the header lines of the listed fields (or
 * of all others), names compared without case, folded fields kept whole, then
 * the blank line that ends a header (RFC 3501: the result includes it).
 */
export function filterHeaderFields(header: Buffer, fields: string[], exclude: boolean): Buffer {
  const wanted = new Set(fields.map((f) => f.toLowerCase()));
  const out: Buffer[] = [];
  let keep = false;
  let i = 0;
  while (i < header.length) {
    let nl = header.indexOf(0x0a, i);
    nl = nl === -1 ? header.length : nl + 1;
    const line = header.subarray(i, nl);
    i = nl;
    const first = line[0];
    if (first === 0x0d || first === 0x0a) break; // the blank line: end of header
    if (first === 0x20 || first === 0x09) {
      if (keep) out.push(withLineEnd(line));
      continue;
    }
    const colon = line.indexOf(0x3a);
    if (colon <= 0) {
      keep = false; // not a field (an mbox "From " line, garbage): never part of a field subset
      continue;
    }
    const name = line.subarray(0, colon).toString('latin1').trim().toLowerCase();
    keep = wanted.has(name) !== exclude;
    if (keep) out.push(withLineEnd(line));
  }
  out.push(CRLF);
  return Buffer.concat(out);
}

const CRLF = Buffer.from('\r\n');

/** A header's last line may lack its line end (a header-only message). */
function withLineEnd(line: Buffer): Buffer {
  return line[line.length - 1] === 0x0a ? line : Buffer.concat([line, CRLF]);
}

export type TransferResult = { ok: true; data: Buffer } | { ok: false; code: 'unknownCte' };

/** BINARY[]: the decoded content of a part's body; unknown encodings give IMAP's UNKNOWN-CTE. */
export function decodeTransfer(bytes: Buffer, encoding: string): TransferResult {
  const data = decodeTransferEncoding(bytes, encoding);
  return data === null ? { ok: false, code: 'unknownCte' } : { ok: true, data };
}

/** Streaming form of decodeTransfer, for large parts; null for an unknown encoding (UNKNOWN-CTE). */
export function decodeTransferStream(encoding: string): Transform | null {
  return createDecodeStream(encoding);
}
