/** QUIT (RFC 1939 4, 6): in TRANSACTION it applies the deletions (the UPDATE state). */
import { command } from './types.js';

export const quit = command<null>({
  name: 'QUIT',
  states: ['authorization', 'transaction'],
  // Arguments are ignored: a client saying goodbye is let go either way.
  parse: () => null,
  async run(s) {
    await s.quit();
  },
});
