/**
 * Sequence sets (RFC 3501 9 "sequence-set", RFC 5182 "$" SEARCHRES): parsed as
 * written, resolved against the session's view of the mailbox only when a
 * command runs, because "*" means "the last one now".
 */
import { ParseError, type Cursor } from './parser/cursor.js';

/** `*` in a range. */
export const STAR = 0;

export type SequenceSet =
  /** Inclusive ranges as written, low/high unordered; STAR for "*". */
  | { kind: 'ranges'; ranges: Array<[number, number]> }
  /** "$": the saved search result (RFC 5182). */
  | { kind: 'saved' };

export function parseSequenceSet(c: Cursor): SequenceSet {
  if (c.tryChar('$')) return { kind: 'saved' };
  const ranges: Array<[number, number]> = [];
  for (;;) {
    const a = seqNumber(c);
    let b = a;
    if (c.tryChar(':')) b = seqNumber(c);
    ranges.push([a, b]);
    if (!c.tryChar(',')) break;
  }
  return { kind: 'ranges', ranges };
}

function seqNumber(c: Cursor): number {
  if (c.tryChar('*')) return STAR;
  const p = c.peek();
  if (p < 0x31 || p > 0x39) throw new ParseError('Invalid sequence set');
  return c.nzNumber();
}

export function formatSequenceSet(set: SequenceSet): string {
  if (set.kind === 'saved') return '$';
  return set.ranges.map(([a, b]) => (a === b ? fmt(a) : `${fmt(a)}:${fmt(b)}`)).join(',');
}

function fmt(n: number): string {
  return n === STAR ? '*' : String(n);
}

/** Compresses ascending numbers into "1:3,5,7:9" (for UIDPLUS, ESEARCH, VANISHED). */
export function compressNumbers(nums: ArrayLike<number>): string {
  const parts: string[] = [];
  let i = 0;
  while (i < nums.length) {
    const start = nums[i]!;
    let end = start;
    while (i + 1 < nums.length && nums[i + 1] === end + 1) {
      end++;
      i++;
    }
    parts.push(start === end ? String(start) : `${start}:${end}`);
    i++;
  }
  return parts.join(',');
}

/** Merged, sorted inclusive ranges with STAR replaced by `star`. */
export function normaliseRanges(ranges: Array<[number, number]>, star: number): Array<[number, number]> {
  const out = ranges.map(([a, b]): [number, number] => {
    const x = a === STAR ? star : a;
    const y = b === STAR ? star : b;
    return x <= y ? [x, y] : [y, x];
  });
  out.sort((p, q) => p[0] - q[0]);
  const merged: Array<[number, number]> = [];
  for (const r of out) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}
