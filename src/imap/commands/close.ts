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
    return { text: 'UNSELECT completed' };
  },
});
