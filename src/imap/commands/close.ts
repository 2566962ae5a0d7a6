/** CLOSE (RFC 3501 6.4.2) and UNSELECT (RFC 3691). CLOSE expunges silently unless read-only. */
import { command, noArgs, SELECTED } from './types.js';

export const closeCommand = command({
  name: 'CLOSE',
  states: SELECTED,
  parse: noArgs,
  syncAfter: false,
  async run(s) {
    const mb = s.selected();
    if (!mb.readOnly) await s.store.expunge(mb.id);
    s.leaveSelected();
    // RFC 7162 3.2.8: with QRESYNC, tell the client the mailbox is closed.
    if (s.qresync) s.send('* OK [CLOSED] Previous mailbox closed');
    return { text: 'CLOSE completed' };
  },
});

export const unselectCommand = command({
  name: 'UNSELECT',
  states: SELECTED,
  parse: noArgs,
  syncAfter: false,
  async run(s) {
    s.leaveSelected();
    if (s.qresync) s.send('* OK [CLOSED] Previous mailbox closed');
    return { text: 'UNSELECT completed' };
  },
});
