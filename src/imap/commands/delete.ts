/** DELETE (RFC 3501 6.3.4): never INBOX; children stay (their parent becomes \NonExistent). */
import { errors } from '../errors.js';
import { AUTHENTICATED, command } from './types.js';

export const deleteCommand = command({
  name: 'DELETE',
  states: AUTHENTICATED,
  parse(c) {
    c.sp();
    return c.astring();
  },
  async run(s, raw) {
    const name = s.mailboxName(raw);
    if (name === 'INBOX') throw errors.noInbox();
    const mailbox = await s.getMailbox(name);
    if (!mailbox) throw errors.nonexistent();
    if (s.state.kind === 'selected' && s.state.mailbox.id === mailbox.id) {
      // Deleting the mailbox in use: leave it first, as if UNSELECT had been sent.
      s.leaveSelected();
    }
    await s.store.deleteMailbox(mailbox.id);
    // Subscriptions are the client's business (RFC 3501 6.3.4), so they stay.
    return { text: 'DELETE completed' };
  },
});
