/**
 * SELECT and EXAMINE (RFC 3501 6.3.1-2, RFC 9051 6.3.2), with CONDSTORE and
 * QRESYNC parameters (RFC 7162 3.1.8, 3.2.5): the session's view is built
 * here, from one listMessages, and kept compact (view.ts).
 */
import { bad, errors } from '../errors.js';
import { ParseError, type Cursor } from '../parser/cursor.js';
import { compressNumbers, normaliseRanges, parseSequenceSet, type SequenceSet } from '../sequence-set.js';
import { metasFor } from '../fetch/metas.js';
import { SelectedMailbox } from '../selected.js';
import type { Session } from '../session.js';
import { AUTHENTICATED, command } from './types.js';

interface QresyncParams {
  uidValidity: number;
  modseq: number;
  knownUids: SequenceSet | null;
}

interface SelectArgs {
  mailbox: Buffer;
  condstore: boolean;
  qresync: QresyncParams | null;
}

const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];
/** Mailboxes this small are listed whole at SELECT (to name the keywords in use in FLAGS). */
const LIST_BELOW = 5000;

function parseSelect(c: Cursor): SelectArgs {
  c.sp();
  const mailbox = c.astring();
  const args: SelectArgs = { mailbox, condstore: false, qresync: null };
  if (c.trySp()) {
    c.list((p) => {
      const name = p.atom('a SELECT parameter').toUpperCase();
      if (name === 'CONDSTORE') args.condstore = true;
      else if (name === 'QRESYNC') {
        p.sp();
        p.char('(');
        const uidValidity = p.nzNumber();
        p.sp();
        const modseq = p.number();
        let knownUids: SequenceSet | null = null;
        if (p.trySp()) {
          if (p.peek() !== 0x28) {
            knownUids = parseSequenceSet(p);
            p.trySp();
          }
          if (p.peek() === 0x28) {
            // seq-match-data: accepted; the server answers exactly without it.
            p.char('(');
            parseSequenceSet(p);
            p.sp();
            parseSequenceSet(p);
            p.char(')');
          }
        }
        p.char(')');
        args.qresync = { uidValidity, modseq, knownUids };
      } else throw new ParseError(`Unknown SELECT parameter ${name}`);
      return name;
    }, false);
  }
  return args;
}

async function select(s: Session, args: SelectArgs, readOnly: boolean): Promise<{ code: string; text: string }> {
  if (args.qresync && !s.qresync) throw bad(null, 'QRESYNC must be enabled first');
  if (args.condstore) s.enabled.add('CONDSTORE');
  const wasSelected = s.state.kind === 'selected';
  // A SELECT that fails still leaves the previous mailbox (RFC 3501 6.3.1).
  s.leaveSelected();
  // RFC 7162 3.2.11 (QRESYNC) and RFC 9051 7.1: say that the previous mailbox was closed.
  if (wasSelected && (s.qresync || s.rev2)) s.send('* OK [CLOSED] Previous mailbox closed');

  const name = s.mailboxName(args.mailbox);
  const mailbox = await s.getMailbox(name);
  if (!mailbox) throw errors.nonexistent();
  // Status first, then the UIDs: a change in between shows up again at the first sync, harmlessly.
  const status = await s.store.mailboxStatus(mailbox.id);
  let uids: ArrayLike<number>;
  const keywords = new Set<string>();
  let firstUnseenUid = 0;
  if (status.messages <= LIST_BELOW) {
    // A small mailbox: one listing gives the UIDs, the keywords in use and the first unseen.
    const metas = await s.store.listMessages(mailbox.id);
    const list = new Uint32Array(metas.length);
    metas.forEach((m, i) => {
      list[i] = m.uid;
      for (const f of m.flags) if (!f.startsWith('\\')) keywords.add(f);
      if (firstUnseenUid === 0 && !m.flags.includes('\\Seen')) firstUnseenUid = m.uid;
    });
    uids = list;
  } else {
    // A big one: UIDs from the index alone (listing every message's flags costs ten times more).
    uids = await s.store.search(mailbox.id, { op: 'all' });
    if (!s.rev2 && status.unseen > 0) firstUnseenUid = (await s.store.search(mailbox.id, { op: 'flag', flag: '\\Seen', set: false }))[0] ?? 0;
  }
  const selected = new SelectedMailbox(mailbox, uids, status.highestModseq, readOnly, status.uidNext);
  s.enterSelected(selected);
  const firstUnseen = firstUnseenUid ? selected.view.seqOf(firstUnseenUid) : 0;

  const flags = [...SYSTEM_FLAGS, ...keywords].join(' ');
  s.send(`* ${selected.view.count} EXISTS`);
  if (!s.rev2) s.send('* 0 RECENT');
  s.send(`* FLAGS (${flags})`);
  s.send(readOnly ? '* OK [PERMANENTFLAGS ()] Read-only mailbox' : `* OK [PERMANENTFLAGS (${flags} \\*)] Flags permitted`);
  if (!s.rev2 && firstUnseen > 0) s.send(`* OK [UNSEEN ${firstUnseen}] First unseen`);
  s.send(`* OK [UIDVALIDITY ${status.uidValidity}] UIDs valid`);
  s.send(`* OK [UIDNEXT ${status.uidNext}] Predicted next UID`);
  s.send(`* OK [HIGHESTMODSEQ ${status.highestModseq}] Highest`);
  // IMAP4rev2 (RFC 9051 6.3.2): the mailbox's name as the server spells it.
  if (s.rev2) s.send(`* LIST () "/" ${s.quotedMailbox(mailbox.name)}`);

  if (args.qresync && args.qresync.uidValidity === status.uidValidity) {
    await resync(s, selected, args.qresync);
  }
  return { code: readOnly ? 'READ-ONLY' : 'READ-WRITE', text: `${readOnly ? 'EXAMINE' : 'SELECT'} completed` };
}

/** QRESYNC (RFC 7162 3.2.5.2): what vanished and what changed since the client's MODSEQ. */
async function resync(s: Session, mb: SelectedMailbox, q: QresyncParams): Promise<void> {
  const changes = await s.store.changesSince(mb.id, q.modseq);
  const known = q.knownUids && q.knownUids.kind === 'ranges' ? normaliseRanges(q.knownUids.ranges, 0xffffffff) : null;
  const inKnown = (uid: number) => !known || known.some(([a, b]) => uid >= a && uid <= b);
  const vanished = [...new Set(changes.filter((ch) => ch.kind === 'expunge' && inKnown(ch.uid)).map((ch) => ch.uid))].sort((a, b) => a - b);
  if (vanished.length > 0) s.send(`* VANISHED (EARLIER) ${compressNumbers(vanished)}`);
  const changed = [...new Set(changes.filter((ch) => ch.kind !== 'expunge' && mb.view.has(ch.uid)).map((ch) => ch.uid))].sort((a, b) => a - b);
  for (const m of await metasFor(s, mb.id, changed)) {
    if (m.modseq <= q.modseq) continue;
    const seq = mb.view.seqOf(m.uid);
    s.send(`* ${seq} FETCH (UID ${m.uid} FLAGS ${s.formatFlags(m.flags, m.uid)} MODSEQ (${m.modseq}))`);
  }
}

export const selectCommand = command({
  name: 'SELECT',
  states: AUTHENTICATED,
  parse: parseSelect,
  syncAfter: false,
  run: (s, args) => select(s, args, false),
});

export const examineCommand = command({
  name: 'EXAMINE',
  states: AUTHENTICATED,
  parse: parseSelect,
  syncAfter: false,
  run: (s, args) => select(s, args, true),
});

