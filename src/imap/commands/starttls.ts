/** STARTTLS (RFC 3501 6.2.1): TLS before login; anything pipelined after it is dropped. */
import { bad, no } from '../errors.js';
import { command, NOT_AUTHENTICATED, noArgs } from './types.js';

export const starttlsCommand = command({
  name: 'STARTTLS',
  states: NOT_AUTHENTICATED,
  parse: noArgs,
  async run(s, _args, tag) {
    if (s.conn.secure) throw bad(null, 'TLS is already active');
    const context = s.ctx.secureContext;
    if (!context) throw no(null, 'TLS is not available');
    s.send(`${tag} OK Begin TLS negotiation now`);
    await s.conn.startTls(context);
    // The tagged reply went out already; the session must not send another.
    return { text: '', silent: true };
  },
});
