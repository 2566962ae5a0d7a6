/**
 * SEARCH from stored columns: the SearchKey becomes one SQL WHERE clause over
 * the mailbox's message rows (flags, UIDs, sizes, dates, MODSEQ) joined, when a
 * key needs it, to the blob's index row. Substrings of three characters or
 * more go through the trigram FTS index (blob_fts holds lower-cased text, so
 * a phrase match there is an exact substring match); shorter ones, and the
 * field check of HEADER, are JS functions over the stored text. Semantics are
 * core/search.ts's, which the contract suite compares against.
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

/** Trigram matching needs at least three characters (code points). */
const indexable = (s: string) => [...s].length >= 3;
const phrase = (s: string) => `"${s.replace(/"/g, '""')}"`;

interface Compiled {
  sql: string;
  params: unknown[];
  needsBlob: boolean;
}

export function compileSearch(key: SearchKey, now: number): Compiled {
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

  const c = (k: SearchKey): string => {
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
        if (k.ranges.length === 0) return '0';
        const parts = k.ranges.map(([a, b]) => {
          params.push(Math.min(num(a), num(b)), Math.max(num(a), num(b)));
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
        if (indexable(needle)) {
          params.push(`hdrs : ${phrase(needle)}`, field, needle);
          return '(b.seq IN (SELECT rowid FROM blob_fts WHERE blob_fts MATCH ?) AND mr_header(b.hdrs_text, ?, ?))';
        }
        params.push(field, needle);
        return 'mr_header(b.hdrs_text, ?, ?)';
      }
      case 'body': {
        const needle = k.value.toLowerCase();
        if (needle === '') return '1';
        needsBlob = true;
        if (indexable(needle)) {
          params.push(`body : ${phrase(needle)}`);
          return '(b.seq IN (SELECT rowid FROM blob_fts WHERE blob_fts MATCH ?))';
        }
        params.push(needle);
        return 'mr_contains(b.body_text, ?)';
      }
      case 'text': {
        const needle = k.value.toLowerCase();
        if (needle === '') return '1';
        needsBlob = true;
        if (indexable(needle)) {
          params.push(phrase(needle));
          return '(b.seq IN (SELECT rowid FROM blob_fts WHERE blob_fts MATCH ?))';
        }
        params.push(needle, needle);
        return '(mr_contains(b.hdrs_text, ?) OR mr_contains(b.body_text, ?))';
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
      const { sql, params, needsBlob } = compileSearch(key, ctx.now());
      const from = needsBlob ? 'messages m JOIN blobs b ON b.id = m.blob_id' : 'messages m';
      // Compiled SQL varies with the key's shape: prepare without the statement cache.
      const rows = ctx.db
        .prepare(`SELECT m.uid FROM ${from} WHERE m.mailbox_id = ? AND ${sql} ORDER BY m.uid`)
        .pluck()
        .all(mailboxId, ...params) as number[];
      return rows;
    },
  };
}
