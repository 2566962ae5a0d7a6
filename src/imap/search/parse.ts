/**
 * SEARCH keys of RFC 3501 6.4.4 and RFC 9051 6.4.4, with RFC 7162 MODSEQ,
 * RFC 5032 OLDER/YOUNGER and RFC 5182 "$", parsed into the shared SearchKey
 * AST. Sequence sets stay symbolic (ImapSearchKey) until the session resolves
 * them against its view, because they mean different UIDs in every session.
 */
import type { SearchKey } from '../../core/search-key.js';
import { ParseError, type Cursor } from '../parser/cursor.js';
import { parseSequenceSet, type SequenceSet } from '../sequence-set.js';
import { MONTHS } from '../responses/encode.js';

export type ImapSearchKey =
  | Exclude<SearchKey, { op: 'and' } | { op: 'or' } | { op: 'not' }>
  | { op: 'and'; keys: ImapSearchKey[] }
  | { op: 'or'; keys: ImapSearchKey[] }
  | { op: 'not'; key: ImapSearchKey }
  | { op: 'seqset'; set: SequenceSet }
  | { op: 'uidset'; set: SequenceSet }
  /** \Recent as this session sees it. */
  | { op: 'recent' };

export const SUPPORTED_CHARSETS = ['US-ASCII', 'UTF-8'];

export function checkCharset(name: string): void {
  const up = name.toUpperCase();
  if (!SUPPORTED_CHARSETS.includes(up) && up !== 'ASCII' && up !== 'UTF8') {
    throw new ParseError(`Unsupported charset ${name}`, `BADCHARSET (${SUPPORTED_CHARSETS.join(' ')})`);
  }
}

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};

const HEADER_KEYS: Record<string, string> = { BCC: 'bcc', CC: 'cc', FROM: 'from', SUBJECT: 'subject', TO: 'to' };

const DATE_KEYS: Record<string, [SearchKey['op'] & ('internalDate' | 'sentDate'), 'before' | 'on' | 'since']> = {
  BEFORE: ['internalDate', 'before'],
  ON: ['internalDate', 'on'],
  SINCE: ['internalDate', 'since'],
  SENTBEFORE: ['sentDate', 'before'],
  SENTON: ['sentDate', 'on'],
  SENTSINCE: ['sentDate', 'since'],
};

/** search-key *(SP search-key), until the end of the command or a ")". */
export function parseSearchProgram(c: Cursor): ImapSearchKey {
  const keys: ImapSearchKey[] = [parseKey(c)];
  while (c.trySp()) keys.push(parseKey(c));
  return keys.length === 1 ? keys[0]! : { op: 'and', keys };
}

function text(c: Cursor): string {
  return c.astring().toString('utf8');
}

export function parseKey(c: Cursor): ImapSearchKey {
  const p = c.peek();
  if (p === 0x28) {
    c.char('(');
    const keys: ImapSearchKey[] = [parseKey(c)];
    while (c.trySp()) keys.push(parseKey(c));
    c.char(')');
    return keys.length === 1 ? keys[0]! : { op: 'and', keys };
  }
  if ((p >= 0x31 && p <= 0x39) || p === 0x2a || p === 0x24) {
    return { op: 'seqset', set: parseSequenceSet(c) };
  }
  const word = c.atom('a search key').toUpperCase();
  const flag = FLAG_KEYS[word];
  if (flag) return { op: 'flag', flag: flag[0], set: flag[1] };
  const header = HEADER_KEYS[word];
  if (header) {
    c.sp();
    return { op: 'header', field: header, value: text(c) };
  }
  const date = DATE_KEYS[word];
  if (date) {
    c.sp();
    return { op: date[0], cmp: date[1], day: searchDate(c) };
  }
  switch (word) {
    case 'ALL':
      return { op: 'all' };
    case 'NEW':
      return { op: 'and', keys: [{ op: 'recent' }, { op: 'flag', flag: '\\Seen', set: false }] };
    case 'OLD':
      return { op: 'not', key: { op: 'recent' } };
    case 'RECENT':
      return { op: 'recent' };
    case 'BODY':
      c.sp();
      return { op: 'body', value: text(c) };
    case 'TEXT':
      c.sp();
      return { op: 'text', value: text(c) };
    case 'HEADER': {
      c.sp();
      const field = c.astring().toString('latin1').toLowerCase();
      c.sp();
      return { op: 'header', field, value: text(c) };
    }
    case 'KEYWORD':
    case 'UNKEYWORD': {
      c.sp();
      return { op: 'flag', flag: c.flag(), set: word === 'KEYWORD' };
    }
    case 'LARGER':
    case 'SMALLER':
      c.sp();
      return { op: 'size', cmp: word === 'LARGER' ? 'larger' : 'smaller', bytes: c.number() };
    case 'NOT':
      c.sp();
      return { op: 'not', key: parseKey(c) };
    case 'OR': {
      c.sp();
      const a = parseKey(c);
      c.sp();
      const b = parseKey(c);
      return { op: 'or', keys: [a, b] };
    }
    case 'UID':
      c.sp();
      return { op: 'uidset', set: parseSequenceSet(c) };
    case 'MODSEQ': {
      c.sp();
      // Optional entry-name and entry-type-req (RFC 7162 3.1.5): accepted and ignored.
      if (c.peek() === 0x22 || c.isLiteralStart() || !(c.peek() >= 0x30 && c.peek() <= 0x39)) {
        c.astring();
        c.sp();
        const type = c.atom('an entry type').toLowerCase();
        if (type !== 'priv' && type !== 'shared' && type !== 'all') throw new ParseError('Invalid MODSEQ entry type');
        c.sp();
      }
      return { op: 'modseq', min: c.number() };
    }
    case 'OLDER':
    case 'YOUNGER':
      c.sp();
      return { op: 'age', cmp: word === 'OLDER' ? 'older' : 'younger', seconds: c.nzNumber() };
    default:
      throw new ParseError(`Unknown search key ${word}`);
  }
}

/** date = date-text / DQUOTE date-text DQUOTE; date-text = d[d]-Mon-yyyy → "YYYY-MM-DD". */
export function searchDate(c: Cursor): string {
  const quoted = c.tryChar('"');
  const raw = c.token((b) => b !== 0x22 && b !== 0x20 && b !== 0x29, 'a date');
  if (quoted) c.char('"');
  const day = parseDateText(raw);
  if (!day) throw new ParseError(`Invalid date ${raw}`);
  return day;
}

export function parseDateText(raw: string): string | null {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(raw);
  if (!m) return null;
  const month = MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase());
  const d = Number(m[1]);
  if (month < 0 || d < 1 || d > 31) return null;
  return `${m[3]}-${String(month + 1).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** Whether the key uses MODSEQ (turns CONDSTORE on, RFC 7162 3.1). */
export function usesModseq(k: ImapSearchKey): boolean {
  switch (k.op) {
    case 'modseq':
      return true;
    case 'and':
    case 'or':
      return k.keys.some(usesModseq);
    case 'not':
      return usesModseq(k.key);
    default:
      return false;
  }
}

export interface ResolveContext {
  /** Sequence set → UID ranges (throws ParseError when out of range). */
  seqRanges(set: SequenceSet): Array<[number, number]>;
  uidRanges(set: SequenceSet): Array<[number, number]>;
  /** UID ranges of the messages that are \Recent in this session. */
  recentRanges(): Array<[number, number]>;
}

export function resolveSearchKey(k: ImapSearchKey, ctx: ResolveContext): SearchKey {
  switch (k.op) {
    case 'and':
      return { op: 'and', keys: k.keys.map((x) => resolveSearchKey(x, ctx)) };
    case 'or':
      return { op: 'or', keys: k.keys.map((x) => resolveSearchKey(x, ctx)) };
    case 'not':
      return { op: 'not', key: resolveSearchKey(k.key, ctx) };
    case 'seqset':
      return { op: 'uid', ranges: ctx.seqRanges(k.set) };
    case 'uidset':
      return { op: 'uid', ranges: ctx.uidRanges(k.set) };
    case 'recent':
      return { op: 'uid', ranges: ctx.recentRanges() };
    default:
      return k;
  }
}
