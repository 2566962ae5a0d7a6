/** DELE (RFC 1939 5): marks only; the message goes when QUIT enters UPDATE. */
import { errors } from '../errors.js';
import { maildropOf, messageAt, messageNumber } from './messages.js';
import { command } from './types.js';

export const dele = command<number>({
  name: 'DELE',
  states: ['transaction'],
  parse: (cmd) => (cmd.args.length === 1 ? messageNumber(cmd.args[0]!) : errors.syntax('DELE msg')),
  run(s, n) {
    messageAt(s, n);
    maildropOf(s).delete(n);
    s.ok(`message ${n} deleted`);
  },
});
