/**
 * SEARCH semantics in one place: a pure in-memory matcher for the SearchKey AST
 * (src/core/search-key.ts), and the text forms the stores index so that their
 * SQL answers are the same as this matcher's (the store contract suite checks
 * that on generated data).
 *
 * The rules (RFC 3501 6.4.4, RFC 9051 6.4.4, RFC 7162, RFC 5032):
 * - Strings match as case-insensitive substrings: both sides lower-cased with
 *   String.prototype.toLowerCase (Unicode), then compared.
 * - HEADER f "" matches when the field is present; HEADER f v when any field
 *   named f (case-insensitive) contains v. BODY looks in the decoded text of the
 *   text parts; TEXT in the header block ("name: value" lines) or that body text.
 * - Internal dates compare by their UTC day; sent dates by the Date header's own
 *   day (MessageIndex.sentDay), or the internal date's UTC day when it has none.
 * - Flags: system flags and keywords compare case-insensitively.
 * - OLDER n: internal date at least n seconds ago; YOUNGER n: less than n ago.
 */
import type { MessageIndex } from './mime/types.js';
import type { SearchKey } from './search-key.js';

export interface SearchableMessage {
  uid: number;
  modseq: number;
  flags: string[];
  internalDate: Date;
  size: number;
  index: Pick<MessageIndex, 'headers' | 'text' | 'sentDay'>;
}

const DAY_MS = 86_400_000;
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Epoch ms of 00:00 UTC of a "YYYY-MM-DD" day; throws on anything else. */
export function dayStartUtc(day: string): number {
  const m = DAY_RE.exec(day);
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!Number.isFinite(t) || new Date(t).toISOString().slice(0, 10) !== day) throw new RangeError(`not a day: ${JSON.stringify(day)}`);
  return t;
}

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Header values as searched: line breaks (which an unfolded value should not have) become spaces. */
export function searchableHeaderValue(value: string): string {
  return value.replace(/\r\n|\r|\n/g, ' ');
}

/** The header block as the stores index it for SEARCH HEADER/TEXT: "name: value" lines. */
export function headerSearchText(headers: ReadonlyArray<readonly [string, string]>): string {
  return headers.map(([name, value]) => `${name.toLowerCase()}: ${searchableHeaderValue(value)}`).join('\n');
}

/** Does a header block (headerSearchText form) have field `field` containing `needleLower`? */
export function headerTextHas(hdrsText: string, field: string, needleLower: string): boolean {
  const prefix = `${field.toLowerCase()}: `;
  for (const line of hdrsText.split('\n')) {
    if (line.startsWith(prefix) && (needleLower === '' || line.slice(prefix.length).toLowerCase().includes(needleLower))) return true;
  }
  return false;
}

export function matchesSearch(key: SearchKey, msg: SearchableMessage, opts: { now?: number } = {}): boolean {
  const now = opts.now ?? Date.now();
  const match = (k: SearchKey): boolean => {
    switch (k.op) {
      case 'all':
        return true;
      case 'and':
        return k.keys.every(match);
      case 'or':
        return k.keys.some(match);
      case 'not':
        return !match(k.key);
      case 'uid':
        return k.ranges.some(([a, b]) => msg.uid >= Math.min(a, b) && msg.uid <= Math.max(a, b));
      case 'flag': {
        const want = k.flag.toLowerCase();
        return msg.flags.some((f) => f.toLowerCase() === want) === k.set;
      }
      case 'internalDate': {
        const start = dayStartUtc(k.day);
        const t = msg.internalDate.getTime();
        if (k.cmp === 'before') return t < start;
        if (k.cmp === 'on') return t >= start && t < start + DAY_MS;
        return t >= start;
      }
      case 'sentDate': {
        dayStartUtc(k.day);
        const day = msg.index.sentDay ?? utcDay(msg.internalDate.getTime());
        if (k.cmp === 'before') return day < k.day;
        if (k.cmp === 'on') return day === k.day;
        return day >= k.day;
      }
      case 'size':
        return k.cmp === 'larger' ? msg.size > k.bytes : msg.size < k.bytes;
      case 'header': {
        const field = k.field.toLowerCase();
        const needle = k.value.toLowerCase();
        return msg.index.headers.some(([name, value]) => name.toLowerCase() === field && searchableHeaderValue(value).toLowerCase().includes(needle));
      }
      case 'body':
        return msg.index.text.toLowerCase().includes(k.value.toLowerCase());
      case 'text': {
        const needle = k.value.toLowerCase();
        return headerSearchText(msg.index.headers).toLowerCase().includes(needle) || msg.index.text.toLowerCase().includes(needle);
      }
      case 'modseq':
        return msg.modseq >= k.min;
      case 'age': {
        const cutoff = now - k.seconds * 1000;
        return k.cmp === 'older' ? msg.internalDate.getTime() <= cutoff : msg.internalDate.getTime() > cutoff;
      }
    }
  };
  return match(key);
}
