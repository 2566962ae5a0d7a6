/** The search program shared by SEARCH, SORT and THREAD: CHARSET, keys, and running it. */
import type { MessageRecord } from '../../store/types.js';
import type { Cursor } from '../parser/cursor.js';
import { checkCharset, parseSearchProgram, resolveSearchKey, usesModseq, type ImapSearchKey } from '../search/parse.js';
import { normaliseRanges, type SequenceSet } from '../sequence-set.js';
import type { Session } from '../session.js';

export interface SearchProgram {
  key: ImapSearchKey;
  usesModseq: boolean;
}

/** ["CHARSET" SP charset SP] search-key *(SP search-key) */
export function parseProgram(c: Cursor, charsetRequired: boolean): SearchProgram {
  if (charsetRequired) {
    checkCharset(c.astring().toString('latin1'));
    c.sp();
  } else if (c.tryWord('CHARSET')) {
    c.sp();
    checkCharset(c.astring().toString('latin1'));
    c.sp();
  }
  const key = parseSearchProgram(c);
  return { key, usesModseq: usesModseq(key) };
}

function savedRanges(saved: number[] | null): Array<[number, number]> {
  return (saved ?? []).map((u): [number, number] => [u, u]);
}

/** UIDs (ascending) in the session's view that match. */
export async function runSearch(s: Session, p: SearchProgram): Promise<number[]> {
  const mb = s.selected();
  if (p.usesModseq) s.enabled.add('CONDSTORE');
  const key = resolveSearchKey(p.key, {
    seqRanges: (set: SequenceSet) => (set.kind === 'saved' ? savedRanges(mb.saved) : mb.view.uidRangesForSeqSet(set.ranges)),
    uidRanges: (set: SequenceSet) => (set.kind === 'saved' ? savedRanges(mb.saved) : normaliseRanges(set.ranges, Math.max(mb.view.maxUid, 1))),
    recentRanges: () => [[mb.recentFrom, 0xffffffff]],
  });
  const uids = await s.store.search(mb.id, key);
  return uids.filter((u) => mb.view.has(u));
}

/** Records with the index, for SORT and THREAD. */
export async function recordsFor(s: Session, uids: number[]): Promise<MessageRecord[]> {
  const mb = s.selected();
  const out: MessageRecord[] = [];
  for (let i = 0; i < uids.length; i += 500) out.push(...(await s.store.getMessages(mb.id, uids.slice(i, i + 500))));
  return out;
}
