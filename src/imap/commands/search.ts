/**
 * SEARCH and UID SEARCH (RFC 3501 6.4.4, RFC 9051 6.4.4), with ESEARCH
 * (RFC 4731) return options, SEARCHRES (RFC 5182) SAVE, and CONDSTORE MODSEQ.
 * IMAP4rev2 sessions always get ESEARCH.
 */
import { ParseError, type Cursor } from '../parser/cursor.js';
import { compressNumbers } from '../sequence-set.js';
import type { Session } from '../session.js';
import { metasFor } from '../fetch/metas.js';
import { parseProgram, runSearch, type SearchProgram } from './search-common.js';
import { command, SELECTED } from './types.js';

type ReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE';
const RETURN_OPTIONS: readonly ReturnOption[] = ['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE'];

interface SearchArgs {
  ret: ReturnOption[] | null;
  program: SearchProgram;
}

function parse(c: Cursor): SearchArgs {
  c.sp();
  let ret: ReturnOption[] | null = null;
  if (c.tryWord('RETURN')) {
    c.sp();
    ret = c.list((x) => {
      const o = x.atom('a return option').toUpperCase() as ReturnOption;
      if (!RETURN_OPTIONS.includes(o)) throw new ParseError(`Unknown SEARCH return option ${o}`);
      return o;
    });
    if (ret.length === 0) ret = ['ALL'];
    c.sp();
  }
  return { ret, program: parseProgram(c, false) };
}

async function run(s: Session, a: SearchArgs, tag: string, byUid: boolean): Promise<void> {
  const mb = s.selected();
  let uids: number[];
  try {
    uids = await runSearch(s, a.program);
  } catch (err) {
    // RFC 5182: a failed SEARCH ... SAVE leaves an empty saved result.
    if (a.ret?.includes('SAVE')) mb.saved = [];
    throw err;
  }
  const numbers = byUid ? uids : uids.map((u) => mb.view.seqOf(u));
  let modseq = 0;
  if (a.program.usesModseq && uids.length > 0) {
    for (const r of await metasFor(s, mb.id, uids)) modseq = Math.max(modseq, r.modseq);
  }

  const ret = a.ret ?? (s.rev2 ? (['ALL'] as ReturnOption[]) : null);
  if (!ret) {
    s.send(`* SEARCH${numbers.map((n) => ' ' + n).join('')}${modseq ? ` (MODSEQ ${modseq})` : ''}`);
    return;
  }
  const want = new Set(ret);
  if (want.has('SAVE')) {
    // With MIN/MAX alone, only those are saved (RFC 5182 2.4).
    const onlyEnds = (want.has('MIN') || want.has('MAX')) && !want.has('ALL') && !want.has('COUNT');
    if (onlyEnds && uids.length > 0) {
      const ends = new Set<number>();
      if (want.has('MIN')) ends.add(uids[0]!);
      if (want.has('MAX')) ends.add(uids[uids.length - 1]!);
      mb.saved = [...ends].sort((x, y) => x - y);
    } else mb.saved = uids;
    if (want.size === 1) return;
  }
  const parts = [`* ESEARCH (TAG "${tag}")`];
  if (byUid) parts.push('UID');
  if (numbers.length > 0) {
    if (want.has('MIN')) parts.push(`MIN ${numbers[0]}`);
    if (want.has('MAX')) parts.push(`MAX ${numbers[numbers.length - 1]}`);
    if (want.has('ALL')) parts.push(`ALL ${compressNumbers(numbers)}`);
  }
  if (want.has('COUNT')) parts.push(`COUNT ${numbers.length}`);
  if (modseq && numbers.length > 0) parts.push(`MODSEQ ${modseq}`);
  s.send(parts.join(' '));
}

export const searchCommand = command({
  name: 'SEARCH',
  states: SELECTED,
  expungeOk: false,
  parse,
  async run(s, a, tag) {
    await run(s, a, tag, false);
    return { text: 'SEARCH completed' };
  },
});

export const uidSearchCommand = command({
  name: 'UID SEARCH',
  states: SELECTED,
  parse,
  async run(s, a, tag) {
    await run(s, a, tag, true);
    return { text: 'SEARCH completed' };
  },
});
