/**
 * IDLE (RFC 2177): "+ idling", then untagged updates as they happen until the
 * client sends DONE. The session is woken by the ChangeBus (via watchers.ts),
 * so a delivery is announced within moments; a slow poll covers a bus that
 * missed something (another node).
 */
import { bad } from '../errors.js';
import { AUTHENTICATED, command, noArgs } from './types.js';

const POLL_MS = 60_000;

export const idleCommand = command({
  name: 'IDLE',
  states: AUTHENTICATED,
  parse: noArgs,
  async run(s) {
    s.send('+ idling');
    s.idling = true;
    let lastPoll = Date.now();
    try {
      for (;;) {
        if (s.state.kind === 'selected') {
          const force = Date.now() - lastPoll >= POLL_MS;
          if (force) lastPoll = Date.now();
          await s.sync(true, force);
        }
        await s.conn.flush();
        if (s.state.kind === 'logout') return { text: 'IDLE terminated', silent: true };
        const line = s.conn.reader.nextLine();
        if (line) {
          if (line.kind === 'line' && line.text.toString('latin1').trim().toUpperCase() === 'DONE') break;
          throw bad(null, 'Expected DONE');
        }
        // A client that half-closed will never send DONE: end here, or inputArrived()
        // would resolve at once forever and spin.
        if (s.conn.inputEnded) throw bad(null, 'Connection closed');
        let timer: NodeJS.Timeout | undefined;
        const tick = new Promise<void>((r) => (timer = setTimeout(r, POLL_MS)));
        try {
          await Promise.race([s.conn.inputArrived(), tick]);
        } finally {
          clearTimeout(timer);
        }
        if (s.conn.inputEnded) throw bad(null, 'Connection closed');
      }
    } finally {
      s.idling = false;
    }
    return { text: 'IDLE terminated' };
  },
});
