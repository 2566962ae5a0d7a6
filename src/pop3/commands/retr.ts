/**
 * RETR and TOP (RFC 1939 5, 7): stream the stored message, dot-stuffed. Both
 * mark the message retrieved (for server-side retention, pop3.retention_days);
 * RETR also marks it \Seen, so IMAP shows what POP3 clients have downloaded.
 * The marks are written once, when the session ends.
 */
import { errors } from '../errors.js';
import { maildropOf, messageAt, messageNumber } from './messages.js';
import { command } from './types.js';

export const retr = command<number>({
  name: 'RETR',
  states: ['transaction'],
  parse: (cmd) => (cmd.args.length === 1 ? messageNumber(cmd.args[0]!) : errors.syntax('RETR msg')),
  async run(s, n) {
    const msg = messageAt(s, n);
    await s.sendMessage(n, msg, `${msg.size} octets`);
    const drop = maildropOf(s);
    drop.retrieved.add(msg.uid);
    drop.seen.add(msg.uid);
  },
});

export const top = command<{ n: number; lines: number }>({
  name: 'TOP',
  states: ['transaction'],
  parse: (cmd) => {
    if (cmd.args.length !== 2) return errors.syntax('TOP msg lines');
    const n = messageNumber(cmd.args[0]!);
    if (typeof n !== 'number') return n;
    // A count beyond any message's length just means "all of it".
    if (!/^\d{1,12}$/.test(cmd.args[1]!)) return errors.badLineCount();
    return { n, lines: Math.min(Number(cmd.args[1]), Number.MAX_SAFE_INTEGER) };
  },
  async run(s, { n, lines }) {
    const msg = messageAt(s, n);
    await s.sendMessage(n, msg, 'top of message follows', lines);
    maildropOf(s).retrieved.add(msg.uid);
  },
});
