/** THREAD and UID THREAD (RFC 5256 4): ORDEREDSUBJECT and REFERENCES from core/thread.ts. */
import { formatThreads, threadOrderedSubject, threadReferences, type ThreadNode } from '../../core/thread.js';
import { ParseError, type Cursor } from '../parser/cursor.js';
import type { Session } from '../session.js';
import { parseProgram, recordsFor, runSearch, type SearchProgram } from './search-common.js';
import { command, SELECTED } from './types.js';

interface ThreadArgs {
  algorithm: 'REFERENCES' | 'ORDEREDSUBJECT';
  program: SearchProgram;
}

function parse(c: Cursor): ThreadArgs {
  c.sp();
  const algorithm = c.atom('a threading algorithm').toUpperCase();
  if (algorithm !== 'REFERENCES' && algorithm !== 'ORDEREDSUBJECT') throw new ParseError(`Unknown threading algorithm ${algorithm}`);
  c.sp();
  return { algorithm, program: parseProgram(c, true) };
}

function renumber(nodes: ThreadNode[], map: (uid: number) => number): ThreadNode[] {
  return nodes.map((n) => ({ id: n.id === null ? null : map(n.id), children: renumber(n.children, map) }));
}

async function run(s: Session, a: ThreadArgs, byUid: boolean): Promise<void> {
  const mb = s.selected();
  const records = await recordsFor(s, await runSearch(s, a.program));
  const items = records.map((r) => ({
    id: r.uid,
    sentDate: r.index.sentDate,
    arrival: r.internalDate.getTime(),
    subject: r.index.subject,
    baseSubject: r.index.baseSubject,
    messageId: r.index.messageId,
    inReplyTo: r.index.inReplyTo,
    references: r.index.references,
  }));
  let threads = a.algorithm === 'REFERENCES' ? threadReferences(items) : threadOrderedSubject(items);
  if (!byUid) threads = renumber(threads, (u) => mb.view.seqOf(u));
  s.send(`* THREAD ${formatThreads(threads)}`.trimEnd());
}

export const threadCommand = command({
  name: 'THREAD',
  states: SELECTED,
  expungeOk: false,
  parse,
  async run(s, a) {
    await run(s, a, false);
    return { text: 'THREAD completed' };
  },
});

export const uidThreadCommand = command({
  name: 'UID THREAD',
  states: SELECTED,
  parse,
  async run(s, a) {
    await run(s, a, true);
    return { text: 'THREAD completed' };
  },
});
