/**
 * The MIME header fields of one entity (RFC 2045, 2183, 3066, 2557) turned into
 * the BODYSTRUCTURE fields of RFC 3501 section 7.4.2.
 *
 * Defaults follow RFC 2045 section 5.2 and RFC 2046 section 5.1.5: no (or an
 * unparsable) Content-Type means text/plain; charset=us-ascii, except inside a
 * multipart/digest where it means message/rfc822. Parameter values are decoded
 * (RFC 2231 continuations; charsets through libmime).
 */
import { firstField, stripNul, type HeaderField } from './header.js';
import { decodeCharset } from './text.js';
import type { BodyPart } from './types.js';

export interface PartInfo {
  type: string;
  subtype: string;
  params: Array<[string, string]>;
  id: string | null;
  description: string | null;
  encoding: string;
  md5: string | null;
  disposition: { type: string; params: Array<[string, string]> } | null;
  language: string[] | null;
  location: string | null;
  /** "--" + boundary as the bytes that stand in the message, for multiparts. */
  delimiter: Buffer | null;
}

/** RFC 2046: at most 70 characters; we accept more, up to what a line head can hold. */
const MAX_BOUNDARY = 1000;
const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`{|}~-]+$/;

/**
 * `isMessage`: the header of a message (top level or encapsulated). Its
 * Content-* fields count only when the message says it is MIME, by MIME-Version
 * or by a Content-Type (RFC 2045 section 4, read as leniently as Dovecot does);
 * a MIME part's header always counts.
 */
export function partInfo(fields: HeaderField[], inDigest: boolean, isMessage = false): PartInfo {
  if (isMessage && firstField(fields, 'mime-version') === undefined && firstField(fields, 'content-type') === undefined) {
    fields = [];
  }
  const ct = firstField(fields, 'content-type');
  let type = inDigest ? 'message' : 'text';
  let subtype = inDigest ? 'rfc822' : 'plain';
  let params: Array<[string, string]> = [];
  let delimiter: Buffer | null = null;
  let valid = false;
  if (ct !== undefined && ct.value !== '') {
    const parsed = parseStructured(ct.value);
    const slash = parsed.value.indexOf('/');
    const t = slash === -1 ? '' : parsed.value.slice(0, slash).trim();
    // Only the token after the slash: "application/pdf name=x" (a missing ';') still says application/pdf.
    const s = slash === -1 ? '' : (/^\s*([A-Za-z0-9!#$%&'*+.^_`{|}~-]*)/.exec(parsed.value.slice(slash + 1))?.[1] ?? '');
    if (TOKEN.test(t) && TOKEN.test(s)) {
      valid = true;
      type = t.toLowerCase();
      subtype = s.toLowerCase();
      params = parsed.params;
      if (type === 'multipart') {
        const b = params.find(([k]) => k === 'boundary')?.[1];
        if (b !== undefined && b.length > 0 && b.length <= MAX_BOUNDARY) {
          delimiter = Buffer.from('--' + b, ct.codec === 'utf8' ? 'utf8' : 'latin1');
        }
      }
    }
  }
  if (!valid && !inDigest) params = [['charset', 'us-ascii']];
  if (valid && type === 'text' && !params.some(([k]) => k === 'charset')) {
    // RFC 2045 section 5.2: text without a charset is us-ascii; say so (last, as Dovecot does).
    params.push(['charset', 'us-ascii']);
  }

  const cte = firstField(fields, 'content-transfer-encoding');
  let encoding = '7bit';
  if (cte !== undefined) {
    // The first token: "base64 (sic)" or a folded stray word after it are not part of it.
    const v = (/^\s*(\S*)/.exec(stripComments(cte.value))?.[1] ?? '').toLowerCase();
    if (v !== '') encoding = v;
  }

  const cd = firstField(fields, 'content-disposition');
  let disposition: PartInfo['disposition'] = null;
  if (cd !== undefined && cd.value !== '') {
    const parsed = parseStructured(cd.value);
    const t = parsed.value.trim().toLowerCase();
    if (t !== '') disposition = { type: t, params: parsed.params };
  }

  const cl = firstField(fields, 'content-language');
  let language: string[] | null = null;
  if (cl !== undefined) {
    const tags = stripComments(cl.value)
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '');
    if (tags.length > 0) language = tags;
  }

  return {
    type,
    subtype,
    params,
    id: valueOrNull(fields, 'content-id'),
    description: valueOrNull(fields, 'content-description'),
    encoding,
    md5: valueOrNull(fields, 'content-md5'),
    disposition,
    language,
    location: valueOrNull(fields, 'content-location'),
    delimiter,
  };
}

function valueOrNull(fields: HeaderField[], name: string): string | null {
  const f = firstField(fields, name);
  return f === undefined ? null : f.value;
}

/**
 * "value; a=1; b*0*=utf-8''x; b*1=y" → the value and the parameters, names
 * lower-case, values unquoted and RFC 2231-decoded, in the order they first
 * appear. As RFC 2045 (and Dovecot) read it: comments go, an unquoted value
 * ends at whitespace ("boundary=b" + a folded " garbage" is "b"), a parameter
 * without "=" is skipped; the first of duplicate names wins.
 */
export function parseStructured(raw: string): { value: string; params: Array<[string, string]> } {
  const segments = splitUnquoted(stripComments(raw), ';');
  const value = (segments[0] ?? '').trim();
  const plain: Array<[string, string]> = [];
  /** name → RFC 2231 segments (index, extended?, text). */
  const ext = new Map<string, Array<{ n: number; enc: boolean; text: string }>>();
  const order: string[] = [];
  for (const seg of segments.slice(1)) {
    const m = /^\s*([^\s=]+)\s*=\s*([\s\S]*)$/.exec(seg);
    if (m === null) continue;
    const rawName = m[1]!.toLowerCase();
    const v = paramValue(m[2]!);
    const star = /^(.*?)\*(?:(\d{1,3})(\*)?|)$/.exec(rawName);
    if (star !== null && star[1] !== '') {
      const name = star[1]!;
      if (!order.includes(name)) order.push(name);
      // "name*" alone is extended; "name*N" is literal unless it ends in "*".
      const n = star[2] === undefined ? 0 : Number(star[2]);
      const enc = star[2] === undefined ? true : star[3] === '*';
      let list = ext.get(name);
      if (list === undefined) ext.set(name, (list = []));
      if (!list.some((x) => x.n === n)) list.push({ n, enc, text: v });
      continue;
    }
    if (!order.includes(rawName)) order.push(rawName);
    if (!plain.some(([k]) => k === rawName)) plain.push([rawName, v]);
  }
  const params: Array<[string, string]> = [];
  for (const name of order) {
    const segs = ext.get(name);
    // RFC 2231 section 4: the extended form, when present, is the one to use.
    const v = segs !== undefined ? decode2231(segs) : plain.find(([k]) => k === name)?.[1];
    if (v !== undefined) params.push([name, stripNul(v)]);
  }
  return { value, params };
}

/** An unquoted value ends at whitespace; a quoted one is unquoted (backslash pairs undone). */
function paramValue(s: string): string {
  if (s[0] !== '"') return /^[^\s]*/.exec(s)![0];
  let out = '';
  for (let i = 1; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) out += s[++i];
    else if (c === '"') break;
    else out += c;
  }
  return out;
}

/** RFC 2231 sections 3-4: continuations in order; extended segments are %-encoded in the charset of segment 0. */
function decode2231(segs: Array<{ n: number; enc: boolean; text: string }>): string {
  segs.sort((a, b) => a.n - b.n);
  let charset = '';
  const bytes: Buffer[] = [];
  for (const [i, seg] of segs.entries()) {
    let text = seg.text;
    if (seg.enc && i === 0) {
      const q1 = text.indexOf("'");
      const q2 = q1 === -1 ? -1 : text.indexOf("'", q1 + 1);
      if (q2 !== -1) {
        charset = text.slice(0, q1);
        text = text.slice(q2 + 1);
      }
    }
    bytes.push(seg.enc ? percentDecode(text) : Buffer.from(text, 'utf8'));
  }
  return decodeCharset(Buffer.concat(bytes), charset);
}

function percentDecode(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) out.push(c);
    else for (const b of Buffer.from(s[i]!, 'utf8')) out.push(b);
  }
  return Buffer.from(out);
}

/** Splits at `sep` outside quoted strings. */
function splitUnquoted(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q && c === '\\' && i + 1 < s.length) {
      cur += c + s[++i];
      continue;
    }
    if (c === '"') q = !q;
    if (c === sep && !q) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Removes RFC 5322 comments (nested parentheses, quoted pairs), keeps quoted strings. */
export function stripComments(s: string): string {
  if (!s.includes('(')) return s;
  let out = '';
  let depth = 0;
  let inQuote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && (depth > 0 || inQuote)) {
      if (depth === 0) out += c + (s[i + 1] ?? '');
      i++;
      continue;
    }
    if (depth === 0 && c === '"') inQuote = !inQuote;
    if (!inQuote) {
      if (c === '(') {
        depth++;
        continue;
      }
      if (c === ')' && depth > 0) {
        depth--;
        continue;
      }
    }
    if (depth === 0) out += c;
  }
  return out;
}

/** The zero-length text/plain Dovecot reports for a multipart without parts. */
export function emptyPart(at: number): BodyPart {
  return {
    type: 'text',
    subtype: 'plain',
    params: [['charset', 'us-ascii']],
    id: null,
    description: null,
    encoding: '7bit',
    size: 0,
    lines: 0,
    md5: null,
    disposition: null,
    language: null,
    location: null,
    headerStart: at,
    bodyStart: at,
    bodyEnd: at,
  };
}
