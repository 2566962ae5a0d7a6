/**
 * Message flags as every store backend keeps them: the five system flags as a
 * bitmask (case-insensitive in, canonical spelling out), keywords as given
 * (compared case-insensitively, first spelling kept, no duplicates). \Recent is
 * a session property (RFC 3501 2.3.2) and is never stored.
 */
import { StoreError } from './errors.js';

export const SYSTEM_FLAGS = [
  ['\\Seen', 1],
  ['\\Answered', 2],
  ['\\Flagged', 4],
  ['\\Deleted', 8],
  ['\\Draft', 16],
] as const;

export const SEEN = 1;
export const DELETED = 8;

const BIT_BY_NAME = new Map<string, number>(SYSTEM_FLAGS.map(([name, bit]) => [name.toLowerCase(), bit]));
/** Output order: the order clients usually print them. */
const OUTPUT_ORDER: Array<readonly [string, number]> = [
  ['\\Answered', 2],
  ['\\Flagged', 4],
  ['\\Deleted', 8],
  ['\\Seen', 1],
  ['\\Draft', 16],
];

export interface FlagSet {
  bits: number;
  keywords: string[];
}

// Keywords are stored space-separated, so whitespace and controls are refused;
// the IMAP layer refuses everything else that is not an atom.
const BAD_KEYWORD = /[\s\x00-\x1f\x7f]/;

/** Normalises client-supplied flags; StoreError 'invalid' for an unstorable keyword. */
export function parseFlags(flags: readonly string[]): FlagSet {
  let bits = 0;
  const keywords: string[] = [];
  const seen = new Set<string>();
  for (const flag of flags) {
    const lower = flag.toLowerCase();
    const bit = BIT_BY_NAME.get(lower);
    if (bit !== undefined) {
      bits |= bit;
      continue;
    }
    if (lower === '\\recent') continue;
    if (flag.length === 0 || flag.length > 255 || BAD_KEYWORD.test(flag)) {
      throw new StoreError('invalid', `flag ${JSON.stringify(flag)} cannot be stored`);
    }
    if (seen.has(lower)) continue;
    seen.add(lower);
    keywords.push(flag);
  }
  return { bits, keywords };
}

/** The flags list as MessageMeta.flags shows it. */
/** The 32 system-flag combinations, formatted once (listMessages formats 100k rows). */
const SYSTEM_LISTS: string[][] = Array.from({ length: 32 }, (_, bits) => OUTPUT_ORDER.filter(([, bit]) => bits & bit).map(([name]) => name));

export function formatFlags(bits: number, keywords: string): string[] {
  const system = SYSTEM_LISTS[bits & 31]!;
  if (!keywords) return system.slice();
  return [...system, ...keywords.split(' ')];
}

export function joinKeywords(keywords: readonly string[]): string {
  return keywords.join(' ');
}

/** Applies a STORE operation; returns the new set (the caller compares to see whether anything changed). */
export function applyFlags(current: FlagSet, op: 'add' | 'remove' | 'replace', change: FlagSet): FlagSet {
  if (op === 'replace') return { bits: change.bits, keywords: [...change.keywords] };
  if (op === 'add') {
    const have = new Set(current.keywords.map((k) => k.toLowerCase()));
    const keywords = [...current.keywords];
    for (const k of change.keywords) if (!have.has(k.toLowerCase())) keywords.push(k);
    return { bits: current.bits | change.bits, keywords };
  }
  const drop = new Set(change.keywords.map((k) => k.toLowerCase()));
  return { bits: current.bits & ~change.bits, keywords: current.keywords.filter((k) => !drop.has(k.toLowerCase())) };
}

export function splitKeywords(keywords: string): string[] {
  return keywords ? keywords.split(' ') : [];
}
