/** COPY/MOVE and their UID forms (RFC 3501 6.4.7, RFC 6851 MOVE, RFC 4315 COPYUID). */
import { isStoreError } from '../../store/errors.js';
import { errors } from '../errors.js';
import type { Cursor } from '../parser/cursor.js';
import { compressNumbers, parseSequenceSet, type SequenceSet } from '../sequence-set.js';
import type { Session } from '../session.js';
import { reportExpunged } from './expunge-report.js';
import { command, SELECTED, type Done } from './types.js';

interface CopyArgs {
  set: SequenceSet;
  mailbox: Buffer;
}

function parse(c: Cursor): CopyArgs {
  c.sp();
  const set = parseSequenceSet(c);
  c.sp();
  return { set, mailbox: c.astring() };
}

function copyUid(uidValidity: number, mapping: Array<[number, number]>): string {
  return `COPYUID ${uidValidity} ${mapping.map((p) => p[0]).join(',')} ${mapping.map((p) => p[1]).join(',')}`;
}

async function run(s: Session, a: CopyArgs, byUid: boolean, move: boolean): Promise<Done> {
  const mb = s.selected();
  const uids = mb.view.resolve(a.set, byUid, mb.saved);
  const dest = await s.getMailbox(s.mailboxName(a.mailbox));
  if (!dest) throw errors.tryCreate();
  if (move && mb.readOnly) throw errors.readOnly();
  const verb = move ? 'MOVE' : 'COPY';
  if (uids.length === 0) return { text: `${verb} completed` };
  try {
    if (!move) {
      const r = await s.store.copy(mb.id, uids, dest.id);
      return { code: r.mapping.length ? compact(copyUid(r.uidValidity, r.mapping)) : undefined, text: 'COPY completed' };
    }
    const r = await s.store.move(mb.id, uids, dest.id);
    // RFC 6851 4.3: COPYUID in an untagged OK, before the expunges.
    if (r.mapping.length) s.send(`* OK [${compact(copyUid(r.uidValidity, r.mapping))}] Moved`);
    reportExpunged(s, r.mapping.map((p) => p[0]));
    return { code: s.condstore && r.mapping.length ? `HIGHESTMODSEQ ${r.expungeModseq}` : undefined, text: 'MOVE completed' };
  } catch (err) {
    if (isStoreError(err, 'notFound')) throw errors.tryCreate();
    throw err;
  }
}

/** Compresses the two UID lists of a COPYUID code into ranges. */
function compact(code: string): string {
  const [name, validity, src, dst] = code.split(' ');
  const nums = (list: string) => list!.split(',').map(Number);
  return `${name} ${validity} ${compressPairs(nums(src!))} ${compressPairs(nums(dst!))}`;
}

/** Ranges only where the numbers run up by one; order is kept (the lists correspond). */
function compressPairs(nums: number[]): string {
  const sorted = nums.every((n, i) => i === 0 || n > nums[i - 1]!);
  return sorted ? compressNumbers(nums) : nums.join(',');
}

export const copyCommand = command({ name: 'COPY', states: SELECTED, parse, run: (s, a) => run(s, a, false, false) });
export const uidCopyCommand = command({ name: 'UID COPY', states: SELECTED, parse, run: (s, a) => run(s, a, true, false) });
export const moveCommand = command({ name: 'MOVE', states: SELECTED, parse, run: (s, a) => run(s, a, false, true) });
export const uidMoveCommand = command({ name: 'UID MOVE', states: SELECTED, parse, run: (s, a) => run(s, a, true, true) });
