/** SORT and UID SORT (RFC 5256 3), ordered by core/sort.ts from the delivery-time index. */
import { SORT_KEYS, sortMessages, type SortCriterion, type SortKey } from '../../core/sort.js';
import { ParseError, type Cursor } from '../parser/cursor.js';
import type { Session } from '../session.js';
import { parseProgram, recordsFor, runSearch, type SearchProgram } from './search-common.js';
import { command, SELECTED } from './types.js';

interface SortArgs {
  criteria: SortCriterion[];
  program: SearchProgram;
}

function parse(c: Cursor): SortArgs {
  c.sp();
  const words = c.list((x) => x.atom('a sort key').toUpperCase(), false);
  const criteria: SortCriterion[] = [];
  let reverse = false;
  for (const w of words) {
    if (w === 'REVERSE') {
      if (reverse) throw new ParseError('REVERSE twice');
      reverse = true;
      continue;
    }
    if (!(SORT_KEYS as readonly string[]).includes(w)) throw new ParseError(`Unknown sort key ${w}`);
    criteria.push({ key: w as SortKey, reverse });
    reverse = false;
  }
  if (reverse || criteria.length === 0) throw new ParseError('REVERSE must precede a sort key');
  c.sp();
  return { criteria, program: parseProgram(c, true) };
}

async function run(s: Session, a: SortArgs, byUid: boolean): Promise<void> {
  const mb = s.selected();
  const uids = await runSearch(s, a.program);
  const records = await recordsFor(s, uids);
  const sorted = sortMessages(
    records.map((r) => ({
      id: r.uid,
      arrival: r.internalDate.getTime(),
      size: r.size,
      sentDate: r.index.sentDate,
      baseSubject: r.index.baseSubject,
      sortFrom: r.index.sortFrom,
      sortTo: r.index.sortTo,
      sortCc: r.index.sortCc,
    })),
    a.criteria,
  );
  const numbers = byUid ? sorted : sorted.map((u) => mb.view.seqOf(u));
  s.send(`* SORT${numbers.map((n) => ' ' + n).join('')}`);
}

export const sortCommand = command({
  name: 'SORT',
  states: SELECTED,
  expungeOk: false,
  parse,
  async run(s, a) {
    await run(s, a, false);
    return { text: 'SORT completed' };
  },
});

export const uidSortCommand = command({
  name: 'UID SORT',
  states: SELECTED,
  parse,
  async run(s, a) {
    await run(s, a, true);
    return { text: 'SORT completed' };
  },
});
