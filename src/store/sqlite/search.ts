/**
 * SEARCH from stored columns: the SearchKey becomes one SQL WHERE clause over
 * the mailbox's message rows (flags, UIDs, sizes, dates, MODSEQ) joined, when a
 * key needs it, to the blob's row. For a substring of three characters or
 * more, the trigram index (blob_search, see search-index.ts) first narrows the
 * candidates to blobs holding all its trigrams; every candidate, and every
 * blob not indexed yet, is then checked exactly by a JS function over the
 * stored text (mr_contains, mr_header). Shorter needles are only checked.
 * Semantics are core/search.ts's, which the contract suite compares against.
 */
import { dayStartUtc, headerTextHas } from '../../core/search.js';
import type { SearchKey } from '../../core/search-key.js';
import { StoreError } from '../errors.js';
import { SYSTEM_FLAGS } from '../flags.js';
import type { Ctx, Db } from './db.js';
import { mailboxRow } from './mailboxes.js';

const DAY_MS = 86_400_000;
const BIT_BY_NAME = new Map<string, number>(SYSTEM_FLAGS.map(([name, bit]) => [name.toLowerCase(), bit]));

/** JS functions the compiled SQL calls; registered once per connection. */
export function registerSearchFunctions(db: Db): void {
  db.function('mr_contains', { deterministic: true }, (hay: unknown, needleLower: unknown) =>
    typeof hay === 'string' && hay.toLowerCase().includes(String(needleLower)) ? 1 : 0,
  );
  db.function('mr_header', { deterministic: true }, (hdrs: unknown, field: unknown, needleLower: unknown) =>
    typeof hdrs === 'string' && headerTextHas(hdrs, String(field), String(needleLower)) ? 1 : 0,
  );
  db.function('mr_keyword', { deterministic: true }, (keywords: unknown, kwLower: unknown) =>
    typeof keywords === 'string' && keywords !== '' && keywords.split(' ').some((k) => k.toLowerCase() === kwLower) ? 1 : 0,
  );
}

const MAX_TRIGRAMS = 24;

/**
 * The FTS5 query "all these trigrams" for a lower-cased needle: the trigrams
 * inside each of its whitespace-separated pieces (the index holds words, see
 * search-index.ts), or null when no piece has three characters (code points,
 * as the trigram tokenizer counts) and the text must be scanned. Beyond
 * MAX_TRIGRAMS they add little selectivity; the exact check keeps answers right.
 */
export function trigramQuery(needle: string): string | null {
  const grams = new Set<string>();
  for (const piece of needle.split(/\s+/)) {
    const chars = [...piece];
    for (let i = 0; i + 3 <= chars.length && grams.size < MAX_TRIGRAMS; i++) grams.add(chars.slice(i, i + 3).join(''));
  }
  if (grams.size === 0) return null;
  return [...grams].map((g) => `"${g.replace(/"/g, '""')}"`).join(' ');
}

// The large texts are read only for the rows that get this far (blobs rows stay small).
const HDRS = '(SELECT hdrs_text FROM blob_index WHERE seq = b.seq)';
const BODY = '(SELECT body_text FROM blob_index WHERE seq = b.seq)';

/** Candidate filter: fully indexed blobs holding every trigram, or blobs not (fully) indexed. */
const CANDIDATE = '(b.search_state <> 1 OR b.seq IN (SELECT rowid FROM blob_search WHERE blob_search MATCH ?))';

interface Compiled {
  sql: string;
  params: unknown[];
  needsBlob: boolean;
}

const MAX_INLINE_RANGES = 64;
/** Far beyond any real client; SQLite's own expression depth limit is 1000. */
const MAX_DEPTH = 100;

/** Sorted, with overlapping and adjacent ranges joined. */
export function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of sorted) {
    const last = out.at(-1);
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** The ascending UIDs that fall in the merged ranges. */
function inRanges(uids: number[], ranges: Array<[number, number]>): number[] {
  const out: number[] = [];
  let r = 0;
  for (const u of uids) {
    while (r < ranges.length && ranges[r]![1] < u) r++;
    if (r === ranges.length) break;
    if (u >= ranges[r]![0]) out.push(u);
  }
  return out;
}

/** uidsOf: the mailbox's UIDs in ascending order, for long UID sets. */
export function compileSearch(key: SearchKey, now: number, uidsOf?: () => number[]): Compiled {
  const params: unknown[] = [];
  let needsBlob = false;

  const day = (d: string): number => {
    try {
      return dayStartUtc(d);
    } catch {
      throw new StoreError('invalid', `not a day: ${JSON.stringify(d)}`);
    }
  };
  const num = (n: number): number => {
    if (!Number.isFinite(n)) throw new StoreError('invalid', `not a number: ${n}`);
    return n;
  };

  let depth = 0;
  const c = (k: SearchKey): string => {
    if (++depth > MAX_DEPTH) throw new StoreError('invalid', `search keys nested more than ${MAX_DEPTH} deep`);
    try {
      return compileKey(k);
    } finally {
      depth--;
    }
  };
  const compileKey = (k: SearchKey): string => {
    switch (k.op) {
      case 'all':
        return '1';
      case 'and':
        return k.keys.length ? `(${k.keys.map(c).join(' AND ')})` : '1';
      case 'or':
        return k.keys.length ? `(${k.keys.map(c).join(' OR ')})` : '0';
      case 'not':
        return `(NOT ${c(k.key)})`;
      case 'uid': {
        const ranges = mergeRanges(k.ranges.map(([a, b]) => [Math.min(num(a), num(b)), Math.max(num(a), num(b))]));
        if (ranges.length === 0) return '0';
        if (ranges.length > MAX_INLINE_RANGES && uidsOf) {
          // A long UID set (a client listing thousands of UIDs) as one list parameter, not thousands.
          params.push(JSON.stringify(inRanges(uidsOf(), ranges)));
          return '(m.uid IN (SELECT value FROM json_each(?)))';
        }
        const parts = ranges.map(([a, b]) => {
          params.push(a, b);
          return '(m.uid BETWEEN ? AND ?)';
        });
        return `(${parts.join(' OR ')})`;
      }
      case 'flag': {
        const lower = k.flag.toLowerCase();
        const bit = BIT_BY_NAME.get(lower);
        if (bit !== undefined) return k.set ? `(m.flags & ${bit} <> 0)` : `(m.flags & ${bit} = 0)`;
        params.push(lower);
        return k.set ? 'mr_keyword(m.keywords, ?)' : '(NOT mr_keyword(m.keywords, ?))';
      }
      case 'internalDate': {
        const start = day(k.day);
        if (k.cmp === 'before') {
          params.push(start);
          return '(m.internal_date < ?)';
        }
        if (k.cmp === 'on') {
          params.push(start, start + DAY_MS);
          return '(m.internal_date >= ? AND m.internal_date < ?)';
        }
        params.push(start);
        return '(m.internal_date >= ?)';
      }
      case 'sentDate': {
        day(k.day);
        needsBlob = true;
        params.push(k.day);
        const op = k.cmp === 'before' ? '<' : k.cmp === 'on' ? '=' : '>=';
        return `(coalesce(b.sent_day, strftime('%Y-%m-%d', m.internal_date / 1000.0, 'unixepoch')) ${op} ?)`;
      }
      case 'size':
        params.push(num(k.bytes));
        return k.cmp === 'larger' ? '(m.size > ?)' : '(m.size < ?)';
      case 'header': {
        needsBlob = true;
        const field = k.field.toLowerCase();
        const needle = k.value.toLowerCase();
        const q = trigramQuery(needle);
        if (q) params.push(q);
        params.push(field, needle);
        return q ? `(${CANDIDATE} AND mr_header(${HDRS}, ?, ?))` : `mr_header(${HDRS}, ?, ?)`;
      }
      case 'body': {
        const needle = k.value.toLowerCase();
        if (needle === '') return '1';
        needsBlob = true;
        const q = trigramQuery(needle);
        if (q) params.push(q);
        params.push(needle);
        return q ? `(${CANDIDATE} AND mr_contains(${BODY}, ?))` : `mr_contains(${BODY}, ?)`;
      }
      case 'text': {
        const needle = k.value.toLowerCase();
        if (needle === '') return '1';
        needsBlob = true;
        const q = trigramQuery(needle);
        if (q) params.push(q);
        params.push(needle, needle);
        const check = `(mr_contains(${HDRS}, ?) OR mr_contains(${BODY}, ?))`;
        return q ? `(${CANDIDATE} AND ${check})` : check;
      }
      case 'modseq':
        params.push(num(k.min));
        return '(m.modseq >= ?)';
      case 'age':
        params.push(now - num(k.seconds) * 1000);
        return k.cmp === 'older' ? '(m.internal_date <= ?)' : '(m.internal_date > ?)';
      default:
        throw new StoreError('invalid', `unknown search key ${JSON.stringify((k as { op: unknown }).op)}`);
    }
  };

  const sql = c(key);
  return { sql, params, needsBlob };
}

export function searchApi(ctx: Ctx) {
  return {
    async search(mailboxId: number, key: SearchKey): Promise<number[]> {
      mailboxRow(ctx, mailboxId);
      const uidsOf = () => ctx.db.prepare('SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid').pluck().all(mailboxId) as number[];
      const { sql, params, needsBlob } = compileSearch(key, ctx.now(), uidsOf);
      const from = needsBlob ? 'messages m JOIN blobs b ON b.id = m.blob_id' : 'messages m';
      try {
        // Compiled SQL varies with the key's shape: prepare without the statement cache.
        return ctx.db
          .prepare(`SELECT m.uid FROM ${from} WHERE m.mailbox_id = ? AND ${sql} ORDER BY m.uid`)
          .pluck()
          .all(mailboxId, ...params) as number[];
      } catch (err) {
        // A key nested deeper or wider than SQLite takes is the client's problem, not an internal error.
        if (err instanceof Error && /too many|too large|depth/i.test(err.message)) throw new StoreError('invalid', `search too complex: ${err.message}`);
        throw err;
      }
    },
  };
}
