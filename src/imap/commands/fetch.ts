/** FETCH and UID FETCH (RFC 3501 6.4.5, 6.4.8; RFC 7162 CHANGEDSINCE and VANISHED). */
import { bad } from '../errors.js';
import { parseFetchRequest, type FetchRequest } from '../fetch/items.js';
import { runFetch } from '../fetch/render.js';
import type { Cursor } from '../parser/cursor.js';
import { compressNumbers, normaliseRanges, parseSequenceSet, type SequenceSet } from '../sequence-set.js';
import type { Session } from '../session.js';
import { command, SELECTED } from './types.js';

interface FetchArgs {
  set: SequenceSet;
  req: FetchRequest;
}

function parse(c: Cursor): FetchArgs {
  c.sp();
  const set = parseSequenceSet(c);
  c.sp();
  return { set, req: parseFetchRequest(c) };
}

async function run(s: Session, { set, req }: FetchArgs, byUid: boolean): Promise<void> {
  const mb = s.selected();
  const uids = mb.view.resolve(set, byUid, mb.saved);
  if (req.modifiers.vanished) {
    if (!byUid || !s.qresync || req.modifiers.changedSince === undefined) throw bad(null, 'VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE');
    await sendVanishedEarlier(s, set, req.modifiers.changedSince);
  }
  await runFetch(s, uids, req, byUid);
}

/** UIDs in the requested set expunged since the given MODSEQ (RFC 7162 3.2.6). */
async function sendVanishedEarlier(s: Session, set: SequenceSet, since: number): Promise<void> {
  const mb = s.selected();
  const ranges = set.kind === 'ranges' ? normaliseRanges(set.ranges, Math.max(mb.view.maxUid, 1)) : null;
  const gone = (await s.store.changesSince(mb.id, since))
    .filter((ch) => ch.kind === 'expunge' && (!ranges || ranges.some(([a, b]) => ch.uid >= a && ch.uid <= b)))
    .map((ch) => ch.uid)
    .sort((a, b) => a - b);
  if (gone.length > 0) s.send(`* VANISHED (EARLIER) ${compressNumbers([...new Set(gone)])}`);
}

export const fetchCommand = command({
  name: 'FETCH',
  states: SELECTED,
  expungeOk: false,
  parse,
  run: (s, a) => run(s, a, false),
});

export const uidFetchCommand = command({
  name: 'UID FETCH',
  states: SELECTED,
  parse,
  run: (s, a) => run(s, a, true),
});
