/** ENABLE (RFC 5161): CONDSTORE, QRESYNC (RFC 7162), UTF8=ACCEPT (RFC 6855), IMAP4rev2 (RFC 9051). */
import { AUTHENTICATED, command } from './types.js';

const ENABLEABLE = new Set(['CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT', 'IMAP4REV2']);

export const enableCommand = command({
  name: 'ENABLE',
  states: AUTHENTICATED,
  parse(c) {
    const names: string[] = [];
    do {
      c.sp();
      names.push(c.atom('a capability').toUpperCase());
    } while (c.peek() === 0x20);
    return names;
  },
  async run(s, names) {
    const now: string[] = [];
    for (const n of names) {
      if (!ENABLEABLE.has(n) || s.enabled.has(n)) continue;
      s.enabled.add(n);
      now.push(n === 'IMAP4REV2' ? 'IMAP4rev2' : n);
      // QRESYNC implies CONDSTORE (RFC 7162 3.2.3).
      if (n === 'QRESYNC' && !s.enabled.has('CONDSTORE')) s.enabled.add('CONDSTORE');
    }
    s.send(`* ENABLED${now.map((n) => ' ' + n).join('')}`);
    return { text: 'ENABLE completed' };
  },
});
