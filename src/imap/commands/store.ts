/** STORE and UID STORE (RFC 3501 6.4.6, RFC 7162 3.1.3 UNCHANGEDSINCE / MODIFIED). */
import type { FlagOperation } from '../../store/types.js';
import { errors } from '../errors.js';
import { metasFor } from '../fetch/metas.js';
import { ParseError, type Cursor } from '../parser/cursor.js';
import { compressNumbers, parseSequenceSet, type SequenceSet } from '../sequence-set.js';
import type { Session } from '../session.js';
import { command, SELECTED, type Done } from './types.js';

interface StoreArgs {
  set: SequenceSet;
  unchangedSince: number | undefined;
  op: FlagOperation;
  silent: boolean;
  flags: string[];
}

const SYSTEM = new Set(['\\seen', '\\answered', '\\flagged', '\\deleted', '\\draft', '\\recent']);

function parse(c: Cursor): StoreArgs {
  c.sp();
  const set = parseSequenceSet(c);
  c.sp();
  let unchangedSince: number | undefined;
  if (c.peek() === 0x28) {
    c.list((x) => {
      const name = x.atom('a STORE modifier').toUpperCase();
      if (name !== 'UNCHANGEDSINCE') throw new ParseError(`Unknown STORE modifier ${name}`);
      x.sp();
      unchangedSince = x.number();
      return name;
    }, false);
    c.sp();
  }
  const item = c.atom('+FLAGS, -FLAGS or FLAGS').toUpperCase();
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(item);
  if (!m) throw new ParseError(`Unknown STORE item ${item}`);
  const op: FlagOperation = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'replace';
  c.sp();
  let flags: string[];
  if (c.peek() === 0x28) flags = c.flagList();
  else {
    flags = [c.flag()];
    while (c.trySp()) flags.push(c.flag());
  }
  for (const f of flags) {
    if (f.startsWith('\\') && !SYSTEM.has(f.toLowerCase())) throw new ParseError(`Unknown system flag ${f}`);
  }
  return { set, unchangedSince, op, silent: !!m[2], flags: flags.filter((f) => f.toLowerCase() !== '\\recent') };
}

async function run(s: Session, a: StoreArgs, byUid: boolean): Promise<Done> {
  const mb = s.selected();
  if (mb.readOnly) throw errors.readOnly();
  const uids = mb.view.resolve(a.set, byUid, mb.saved);
  if (a.unchangedSince !== undefined) s.enabled.add('CONDSTORE');
  const result = await s.store.storeFlags(mb.id, uids, a.op, a.flags, a.unchangedSince === undefined ? {} : { unchangedSince: a.unchangedSince });
  const updated = new Map(result.updated.map((u) => [u.uid, u]));
  for (const u of result.updated) mb.noteOwn(u.uid, u.modseq);
  const modified = new Set(result.modified);

  const report = (uid: number, flags: string[] | null, modseq: number) => {
    const seq = mb.view.seqOf(uid);
    if (seq === 0) return;
    const parts: string[] = [];
    if (byUid || s.qresync) parts.push(`UID ${uid}`);
    if (flags) parts.push(`FLAGS ${s.formatFlags(flags, uid)}`);
    if (s.condstore) parts.push(`MODSEQ (${modseq})`);
    if (parts.length > 0) s.send(`* ${seq} FETCH (${parts.join(' ')})`);
  };

  if (!a.silent) {
    // Every message of the set gets its resulting flags, changed or not (RFC 3501 6.4.6).
    const unchanged = uids.filter((u) => !updated.has(u) && !modified.has(u));
    const metas = new Map((await metasFor(s, mb.id, unchanged)).map((m) => [m.uid, m]));
    for (const uid of uids) {
      const u = updated.get(uid);
      if (u) report(uid, u.flags, u.modseq);
      else if (!modified.has(uid)) {
        const m = metas.get(uid);
        if (m) report(uid, m.flags, m.modseq);
      }
    }
  } else if (s.condstore) {
    // .SILENT still reports the new MODSEQ under CONDSTORE (RFC 7162 3.1.3).
    for (const u of result.updated) report(u.uid, null, u.modseq);
  }

  if (modified.size > 0) {
    const list = byUid ? [...modified].sort((x, y) => x - y) : [...modified].map((u) => mb.view.seqOf(u)).filter((n) => n > 0).sort((x, y) => x - y);
    return { code: `MODIFIED ${compressNumbers(list)}`, text: 'Conditional STORE failed' };
  }
  return { text: 'STORE completed' };
}

export const storeCommand = command({
  name: 'STORE',
  states: SELECTED,
  expungeOk: false,
  parse,
  run: (s, a) => run(s, a, false),
});

export const uidStoreCommand = command({
  name: 'UID STORE',
  states: SELECTED,
  parse,
  run: (s, a) => run(s, a, true),
});

