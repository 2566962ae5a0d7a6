/** STAT, NOOP, RSET (RFC 1939 5): the small TRANSACTION commands. */
import { errors } from '../errors.js';
import { maildropOf } from './messages.js';
import { command } from './types.js';

export const stat = command<null>({
  name: 'STAT',
  states: ['transaction'],
  parse: (cmd) => (cmd.args.length ? errors.syntax('STAT') : null),
  run(s) {
    const { count, size } = maildropOf(s).stat();
    s.ok(`${count} ${size}`);
  },
});

export const noop = command<null>({
  name: 'NOOP',
  states: ['transaction'],
  parse: (cmd) => (cmd.args.length ? errors.syntax('NOOP') : null),
  run(s) {
    s.ok();
  },
});

export const rset = command<null>({
  name: 'RSET',
  states: ['transaction'],
  parse: (cmd) => (cmd.args.length ? errors.syntax('RSET') : null),
  run(s) {
    const drop = maildropOf(s);
    drop.reset();
    const { count, size } = drop.stat();
    s.ok(`maildrop has ${count} messages (${size} octets)`);
  },
});
