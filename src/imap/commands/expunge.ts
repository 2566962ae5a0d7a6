/** EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE (RFC 4315 UIDPLUS). */
import { errors } from '../errors.js';
import { parseSequenceSet, type SequenceSet } from '../sequence-set.js';
import { command, noArgs, SELECTED } from './types.js';
import { reportExpunged } from './expunge-report.js';

export const expungeCommand = command({
  name: 'EXPUNGE',
  states: SELECTED,
  parse: noArgs,
  async run(s) {
    const mb = s.selected();
    if (mb.readOnly) throw errors.readOnly();
    const { uids, modseq } = await s.store.expunge(mb.id);
    reportExpunged(s, uids);
    return { code: s.condstore && uids.length > 0 ? `HIGHESTMODSEQ ${modseq}` : undefined, text: 'EXPUNGE completed' };
  },
});

export const uidExpungeCommand = command({
  name: 'UID EXPUNGE',
  states: SELECTED,
  parse(c): SequenceSet {
    c.sp();
    return parseSequenceSet(c);
  },
  async run(s, set) {
    const mb = s.selected();
    if (mb.readOnly) throw errors.readOnly();
    const inSet = mb.view.resolve(set, true, mb.saved);
    if (inSet.length === 0) return { text: 'UID EXPUNGE completed' };
    // Only those of the set that carry \Deleted (RFC 4315 2.1).
    const deleted = await s.store.search(mb.id, {
      op: 'and',
      keys: [
        { op: 'uid', ranges: inSet.map((u): [number, number] => [u, u]) },
        { op: 'flag', flag: '\\Deleted', set: true },
      ],
    });
    if (deleted.length === 0) return { text: 'UID EXPUNGE completed' };
    const { uids, modseq } = await s.store.expunge(mb.id, deleted);
    reportExpunged(s, uids);
    return { code: s.condstore && uids.length > 0 ? `HIGHESTMODSEQ ${modseq}` : undefined, text: 'UID EXPUNGE completed' };
  },
});
