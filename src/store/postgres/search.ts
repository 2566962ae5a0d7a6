/**
 * SEARCH from stored columns: the SearchKey becomes one SQL WHERE clause over
 * the mailbox's message rows (flags, UIDs, sizes, dates, MODSEQ) joined, when
 * a key needs it, to the blob's row and its search entry.
 *
 * Substrings (HEADER, BODY, TEXT) use pg_trgm: blob_search holds the header
 * block and body text lower-cased by JavaScript (as core/search.ts compares),
 * with GIN trigram indexes, and the needle, lower-cased the same way, becomes
 * `col LIKE '%needle%'` (its %, _ and \ escaped). The planner may use the
 * trigram index to find candidates; LIKE itself is an exact, case-sensitive
 * substring test on the lower-cased text, so the answer never depends on the
 * index or on the database's locale. HEADER then checks the field line by
 * line (the needle must be in a line of that field).
 *
 * Keywords compare case-insensitively with JavaScript's rules too: the
 * mailbox's distinct keyword spellings are read first and matched in
 * JavaScript, and the SQL tests membership of the spellings that match.
 * Semantics are core/search.ts's, which the contract suite compares against.
 */
import { dayStartUtc } from '../../core/search.js';
import type { SearchKey } from '../../core/search-key.js';
import { StoreError } from '../errors.js';
import { SYSTEM_FLAGS } from '../flags.js';
import { likeContains, queryable, type Ctx } from './db.js';
import { mailboxRow } from './mailboxes.js';

const DAY_MS = 86_400_000;
const BIT_BY_NAME = new Map<string, number>(SYSTEM_FLAGS.map(([name, bit]) => [name.toLowerCase(), bit]));

interface Compiled {
  sql: string;
  params: unknown[];
  needsText: boolean;
  needsBlob: boolean;
}

/** Far beyond any real client; deeper keys are refused as 'invalid' before they reach the database. */
export const MAX_DEPTH = 100;
/** More UID ranges than this go to the database as one multirange parameter. */
const MAX_INLINE_RANGES = 16;

function tooDeep(): never {
  throw new StoreError('invalid', `search keys nested more than ${MAX_DEPTH} deep`);
}

/** Every keyword (lower-cased) the key tests, so their spellings can be looked up first. */
export function keywordsOf(key: SearchKey, out = new Set<string>(), depth = 0): Set<string> {
  if (depth > MAX_DEPTH) tooDeep();
  switch (key.op) {
    case 'and':
    case 'or':
      for (const k of key.keys) keywordsOf(k, out, depth + 1);
      break;
    case 'not':
      keywordsOf(key.key, out, depth + 1);
      break;
    case 'flag':
      if (!BIT_BY_NAME.has(key.flag.toLowerCase())) out.add(key.flag.toLowerCase());
      break;
  }
  return out;
}

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

/**
 * Compiles the key. `spellings` maps a lower-cased keyword to the spellings
 * stored in the mailbox that are equal to it case-insensitively.
 */
export function compileSearch(key: SearchKey, now: number, spellings: Map<string, string[]>): Compiled {
  const params: unknown[] = [];
  let needsText = false;
  let needsBlob = false;
  const p = (v: unknown): string => {
    params.push(v);
    return `$${params.length + 1}`; // $1 is the mailbox id
  };

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
  /** Numbers compared with BIGINT columns: integers in range, fractions rounded the way the comparison needs. */
  const int = (n: number, round: 'floor' | 'ceil'): string => {
    const v = Math[round](num(n));
    return `${p(Math.max(Math.min(v, Number.MAX_SAFE_INTEGER), -Number.MAX_SAFE_INTEGER))}::bigint`;
  };

  let depth = 0;
  const c = (k: SearchKey): string => {
    if (++depth > MAX_DEPTH + 1) tooDeep();
    try {
      return compileKey(k);
    } finally {
      depth--;
    }
  };
  const compileKey = (k: SearchKey): string => {
    switch (k.op) {
      case 'all':
        return 'TRUE';
      case 'and':
        return k.keys.length ? `(${k.keys.map(c).join(' AND ')})` : 'TRUE';
      case 'or':
        return k.keys.length ? `(${k.keys.map(c).join(' OR ')})` : 'FALSE';
      case 'not':
        return `(NOT ${c(k.key)})`;
      case 'uid': {
        // UIDs are integers: a range holds the integers from ceil(low) to floor(high).
        const ranges = mergeRanges(
          k.ranges
            .map(([a, b]): [number, number] => [Math.ceil(Math.min(num(a), num(b))), Math.floor(Math.max(num(a), num(b)))])
            .filter(([a, b]) => a <= b)
            .map(([a, b]): [number, number] => [Math.max(a, 0), Math.min(b, Number.MAX_SAFE_INTEGER)]),
        );
        if (ranges.length === 0) return 'FALSE';
        if (ranges.length > MAX_INLINE_RANGES) {
          // A client listing thousands of UIDs: one multirange, tested by binary search per message.
          return `(m.uid <@ ${p(`{${ranges.map(([a, b]) => `[${a},${b}]`).join(',')}}`)}::int8multirange)`;
        }
        const parts = ranges.map(([a, b]) => `(m.uid BETWEEN ${p(a)}::bigint AND ${p(b)}::bigint)`);
        return `(${parts.join(' OR ')})`;
      }
      case 'flag': {
        const lower = k.flag.toLowerCase();
        const bit = BIT_BY_NAME.get(lower);
        if (bit !== undefined) return k.set ? `(m.flags & ${bit} <> 0)` : `(m.flags & ${bit} = 0)`;
        const names = spellings.get(lower) ?? [];
        if (names.length === 0) return k.set ? 'FALSE' : 'TRUE';
        const has = `(string_to_array(m.keywords, ' ') && ${p(names)}::text[])`;
        return k.set ? has : `(NOT ${has})`;
      }
      case 'internalDate': {
        const start = day(k.day);
        if (k.cmp === 'before') return `(m.internal_date < ${p(start)}::bigint)`;
        if (k.cmp === 'on') return `(m.internal_date >= ${p(start)}::bigint AND m.internal_date < ${p(start + DAY_MS)}::bigint)`;
        return `(m.internal_date >= ${p(start)}::bigint)`;
      }
      case 'sentDate': {
        // The Date header's own day when there is one, else the internal date's UTC day.
        const start = day(k.day);
        needsBlob = true;
        const d = p(k.day);
        if (k.cmp === 'before') return `(CASE WHEN b.sent_day IS NOT NULL THEN b.sent_day COLLATE "C" < ${d} ELSE m.internal_date < ${p(start)}::bigint END)`;
        if (k.cmp === 'on') {
          return `(CASE WHEN b.sent_day IS NOT NULL THEN b.sent_day = ${d} ELSE m.internal_date >= ${p(start)}::bigint AND m.internal_date < ${p(start + DAY_MS)}::bigint END)`;
        }
        return `(CASE WHEN b.sent_day IS NOT NULL THEN b.sent_day COLLATE "C" >= ${d} ELSE m.internal_date >= ${p(start)}::bigint END)`;
      }
      case 'size':
        return k.cmp === 'larger' ? `(m.size > ${int(k.bytes, 'floor')})` : `(m.size < ${int(k.bytes, 'ceil')})`;
      case 'header': {
        const field = k.field.toLowerCase();
        const needle = k.value.toLowerCase();
        // A field name never holds a colon or a line break: no header can match.
        if (/[:\r\n]/.test(field)) return 'FALSE';
        needsText = true;
        const prefix = p(`${field}: `);
        const pre = needle === '' ? '' : `s.hdrs LIKE ${p(likeContains(needle))} AND `;
        return `(${pre}EXISTS (SELECT 1 FROM unnest(string_to_array(s.hdrs, E'\\n')) AS l(line)
          WHERE starts_with(l.line, ${prefix}) AND strpos(substr(l.line, char_length(${prefix}) + 1), ${p(needle)}) > 0))`;
      }
      case 'body': {
        const needle = k.value.toLowerCase();
        if (needle === '') return 'TRUE';
        needsText = true;
        return `(s.body LIKE ${p(likeContains(needle))})`;
      }
      case 'text': {
        const needle = k.value.toLowerCase();
        if (needle === '') return 'TRUE';
        needsText = true;
        const like = p(likeContains(needle));
        return `(s.hdrs LIKE ${like} OR s.body LIKE ${like})`;
      }
      case 'modseq':
        return `(m.modseq >= ${int(k.min, 'ceil')})`;
      case 'age': {
        const cutoff = now - num(k.seconds) * 1000;
        return k.cmp === 'older' ? `(m.internal_date <= ${int(cutoff, 'floor')})` : `(m.internal_date > ${int(cutoff, 'floor')})`;
      }
      default:
        throw new StoreError('invalid', `unknown search key ${JSON.stringify((k as { op: unknown }).op)}`);
    }
  };

  const sql = c(key);
  return { sql, params, needsText, needsBlob };
}

export function searchApi(ctx: Ctx) {
  // Compiled SQL varies with the key's shape: sent unnamed (not prepared per connection).
  const dynamic = queryable(ctx.pool, false);
  return {
    async search(mailboxId: number, key: SearchKey): Promise<number[]> {
      await mailboxRow(ctx, mailboxId);
      const wanted = keywordsOf(key);
      const spellings = new Map<string, string[]>();
      if (wanted.size > 0) {
        const rows = await ctx.q<{ k: string }>(
          `SELECT DISTINCT k FROM messages, unnest(string_to_array(keywords, ' ')) AS t(k) WHERE mailbox_id = $1 AND keywords <> ''`,
          [mailboxId],
        );
        for (const { k } of rows) {
          const lower = k.toLowerCase();
          if (!wanted.has(lower)) continue;
          let list = spellings.get(lower);
          if (!list) spellings.set(lower, (list = []));
          list.push(k);
        }
      }
      const { sql, params, needsText, needsBlob } = compileSearch(key, ctx.now(), spellings);
      let from = 'messages m';
      if (needsBlob || needsText) from += ' JOIN blobs b ON b.id = m.blob_id';
      if (needsText) from += ' JOIN blob_search s ON s.seq = b.seq';
      const rows = await dynamic.q<{ uid: number }>(`SELECT m.uid FROM ${from} WHERE m.mailbox_id = $1 AND ${sql} ORDER BY m.uid`, [mailboxId, ...params]);
      return rows.map((r) => r.uid);
    },
  };
}
