/** SUBSCRIBE and UNSUBSCRIBE (RFC 3501 6.3.6-7); a name may be subscribed before it exists. */
import { AUTHENTICATED, command } from './types.js';

export const subscribeCommand = command({
  name: 'SUBSCRIBE',
  states: AUTHENTICATED,
  parse(c) {
    c.sp();
    return c.astring();
  },
  async run(s, raw) {
    await s.store.subscribe(s.user().id, s.mailboxName(raw));
    return { text: 'SUBSCRIBE completed' };
  },
});

export const unsubscribeCommand = command({
  name: 'UNSUBSCRIBE',
  states: AUTHENTICATED,
  parse(c) {
    c.sp();
    return c.astring();
  },
  async run(s, raw) {
    await s.store.unsubscribe(s.user().id, s.mailboxName(raw));
    return { text: 'UNSUBSCRIBE completed' };
  },
});
