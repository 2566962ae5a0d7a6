/**
 * STATUS (RFC 3501 6.3.10, RFC 9051 6.3.11 with SIZE and DELETED, RFC 7162
 * HIGHESTMODSEQ, RFC 7889 APPENDLIMIT). Also used by LIST-STATUS.
 */
import type { Mailbox } from '../../store/types.js';
import { errors } from '../errors.js';
import { ParseError, type Cursor } from '../parser/cursor.js';
import type { Session } from '../session.js';
import { AUTHENTICATED, command } from './types.js';

export const STATUS_ITEMS = ['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ', 'SIZE', 'DELETED', 'APPENDLIMIT'] as const;
export type StatusItem = (typeof STATUS_ITEMS)[number];

export function parseStatusItems(c: Cursor): StatusItem[] {
  return c.list((x) => {
    const name = x.atom('a STATUS item').toUpperCase();
    if (!(STATUS_ITEMS as readonly string[]).includes(name)) throw new ParseError(`Unknown STATUS item ${name}`);
    return name as StatusItem;
  }, false);
}

/** The "* STATUS" line for a mailbox. */
export async function statusLine(s: Session, mailbox: Mailbox, items: StatusItem[]): Promise<string> {
  const st = await s.store.mailboxStatus(mailbox.id);
  const values = items.map((item) => {
    switch (item) {
      case 'MESSAGES':
        return `MESSAGES ${st.messages}`;
      case 'RECENT':
        return 'RECENT 0';
      case 'UIDNEXT':
        return `UIDNEXT ${st.uidNext}`;
      case 'UIDVALIDITY':
        return `UIDVALIDITY ${st.uidValidity}`;
      case 'UNSEEN':
        return `UNSEEN ${st.unseen}`;
      case 'HIGHESTMODSEQ':
        return `HIGHESTMODSEQ ${st.highestModseq}`;
      case 'SIZE':
        return `SIZE ${st.size}`;
      case 'DELETED':
        return `DELETED ${st.deleted}`;
      case 'APPENDLIMIT':
        return `APPENDLIMIT ${s.ctx.appendLimit}`;
    }
  });
  return `* STATUS ${s.quotedMailbox(mailbox.name)} (${values.join(' ')})`;
}

export const statusCommand = command({
  name: 'STATUS',
  states: AUTHENTICATED,
  parse(c) {
    c.sp();
    const mailbox = c.astring();
    c.sp();
    return { mailbox, items: parseStatusItems(c) };
  },
  async run(s, { mailbox, items }) {
    const mb = await s.getMailbox(s.mailboxName(mailbox));
    if (!mb) throw errors.nonexistent();
    if (items.includes('HIGHESTMODSEQ')) s.enabled.add('CONDSTORE');
    s.send(await statusLine(s, mb, items));
    return { text: 'STATUS completed' };
  },
});
