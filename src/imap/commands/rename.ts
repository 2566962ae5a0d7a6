/** RENAME (RFC 3501 6.3.5): children move along; INBOX's messages move to the new name, INBOX stays. */
import { isStoreError } from '../../store/errors.js';
import { errors } from '../errors.js';
import { SEPARATOR } from '../names.js';
import { AUTHENTICATED, command } from './types.js';
import { createParents, creatableName } from './mailbox-names.js';

export const renameCommand = command({
  name: 'RENAME',
  states: AUTHENTICATED,
  parse(c) {
    c.sp();
    const from = c.astring();
    c.sp();
    const to = c.astring();
    return { from, to };
  },
  async run(s, args) {
    const from = s.mailboxName(args.from);
    const to = creatableName(s, args.to);
    const mailbox = await s.getMailbox(from);
    if (!mailbox) throw errors.nonexistent();
    if (to === 'INBOX' || (await s.getMailbox(to))) throw errors.alreadyExists();
    if (to.startsWith(from + SEPARATOR)) throw errors.badMailboxName('Cannot rename a mailbox into its own child');
    await createParents(s, to);
    try {
      await s.store.renameMailbox(mailbox.id, to);
    } catch (err) {
      if (isStoreError(err, 'exists')) throw errors.alreadyExists();
      throw err;
    }
    return { text: 'RENAME completed' };
  },
});
