/**
 * The MIME header fields of one entity (RFC 2045, 2183, 3066, 2557) turned into
 * the BODYSTRUCTURE fields of RFC 3501 section 7.4.2.
 *
 * Defaults follow RFC 2045 section 5.2 and RFC 2046 section 5.1.5: no (or an
 * unparsable) Content-Type means text/plain; charset=us-ascii, except inside a
 * multipart/digest where it means message/rfc822. Parameter values are decoded
 * (RFC 2231 continuations and charsets) by libmime.
 */
import libmime from 'libmime';
import { firstField, stripNul, type HeaderField } from './header.js';

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

export function partInfo(fields: HeaderField[], inDigest: boolean): PartInfo {
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
    // RFC 2045 section 5.2: text without a charset is us-ascii; say so, as Dovecot does.
    params.unshift(['charset', 'us-ascii']);
  }

  const cte = firstField(fields, 'content-transfer-encoding');
  let encoding = '7bit';
  if (cte !== undefined) {
    const v = stripComments(cte.value).trim().toLowerCase();
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
 * "value; a=1; b*0*=utf-8''x; b*1=y" → value and decoded params, names
 * lower-case, in the order they first appear in the field.
 */
export function parseStructured(raw: string): { value: string; params: Array<[string, string]> } {
  let parsed: { value: string; params: Record<string, string> };
  try {
    parsed = libmime.parseHeaderValue(raw, { stripComments: true });
  } catch {
    return { value: raw.split(';')[0] ?? '', params: [] };
  }
  // libmime returns a record and moves RFC 2231 parameters to the end; put them back in order.
  const order: string[] = [];
  for (const m of raw.matchAll(/;\s*([^\s=;]+)\s*=/g)) {
    const name = m[1]!.replace(/\*.*$/, '').toLowerCase();
    if (!order.includes(name)) order.push(name);
  }
  const params: Array<[string, string]> = [];
  const seen = new Set<string>();
  for (const name of order) {
    const v = parsed.params[name];
    if (typeof v === 'string' && !seen.has(name)) {
      params.push([name, stripNul(v)]);
      seen.add(name);
    }
  }
  for (const [name, v] of Object.entries(parsed.params)) {
    if (!seen.has(name) && name !== '' && typeof v === 'string') {
      params.push([name, stripNul(v)]);
      seen.add(name);
    }
  }
  return { value: parsed.value ?? '', params };
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
