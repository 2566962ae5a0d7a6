/** LIST and UIDL (RFC 1939 5, 7): one message, or every message not marked deleted. */
import { errors } from '../errors.js';
import { maildropOf, messageAt, messageNumber } from './messages.js';
import { command } from './types.js';

const optionalNumber = (usage: string) => (cmd: { args: string[] }) =>
  cmd.args.length > 1 ? errors.syntax(usage) : cmd.args.length === 1 ? messageNumber(cmd.args[0]!) : null;

export const list = command<number | null>({
  name: 'LIST',
  states: ['transaction'],
  parse: optionalNumber('LIST [msg]'),
  run(s, n) {
    if (n !== null) {
      s.ok(`${n} ${messageAt(s, n).size}`);
      return;
    }
    const drop = maildropOf(s);
    const { count, size } = drop.stat();
    const lines: string[] = [];
    for (const [i, m] of drop.live()) lines.push(`${i} ${m.size}`);
    s.multiline(`${count} messages (${size} octets)`, lines);
  },
});

export const uidl = command<number | null>({
  name: 'UIDL',
  states: ['transaction'],
  parse: optionalNumber('UIDL [msg]'),
  run(s, n) {
    const drop = maildropOf(s);
    if (n !== null) {
      s.ok(`${n} ${drop.uidl(messageAt(s, n))}`);
      return;
    }
    const lines: string[] = [];
    for (const [i, m] of drop.live()) lines.push(`${i} ${drop.uidl(m)}`);
    s.multiline('Unique-ID listing follows', lines);
  },
});
