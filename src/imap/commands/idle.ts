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
        if (s.conn.isClosed) throw bad(null, 'Connection closed');
        const timer = new Promise<void>((r) => setTimeout(r, POLL_MS).unref());
        await Promise.race([s.conn.inputArrived(), timer]);
        if (s.conn.isClosed) throw bad(null, 'Connection closed');
      }
    } finally {
      s.idling = false;
    }
    return { text: 'IDLE terminated' };
  },
});
