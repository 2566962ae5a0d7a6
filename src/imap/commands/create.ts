/** CREATE (RFC 3501 6.3.3) with USE (RFC 6154 CREATE-SPECIAL-USE). */
import { isStoreError } from '../../store/errors.js';
import type { SpecialUse } from '../../store/types.js';
import { errors } from '../errors.js';
import { ParseError } from '../parser/cursor.js';
import { AUTHENTICATED, command } from './types.js';
import { createParents, creatableName, specialUseOf } from './mailbox-names.js';

export const createCommand = command({
  name: 'CREATE',
  states: AUTHENTICATED,
  parse(c) {
    c.sp();
    const mailbox = c.astring();
    let uses: string[] = [];
    if (c.trySp()) {
      c.list((p) => {
        const name = p.atom('a CREATE parameter').toUpperCase();
        if (name !== 'USE') throw new ParseError(`Unknown CREATE parameter ${name}`);
        p.sp();
        uses = p.list((x) => x.flag());
        return name;
      }, false);
    }
    return { mailbox, uses };
  },
  async run(s, { mailbox, uses }) {
    const name = creatableName(s, mailbox);
    if (name === 'INBOX') throw errors.alreadyExists();
    let use: SpecialUse | null = null;
    if (uses.length > 1) throw errors.badMailboxName('Only one special use per mailbox');
    if (uses.length === 1) use = specialUseOf(uses[0]!);
    await createParents(s, name);
    try {
      await s.store.createMailbox(s.user().id, name, use);
    } catch (err) {
      if (isStoreError(err, 'exists')) throw errors.alreadyExists();
      throw err;
    }
    return { text: 'CREATE completed' };
  },
});
