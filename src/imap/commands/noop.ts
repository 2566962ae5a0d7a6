/** NOOP and CHECK (RFC 3501 6.1.2, 6.4.1): the chance to hear of mailbox changes. */
import { ANY, command, noArgs, SELECTED } from './types.js';

export const noopCommand = command({
  name: 'NOOP',
  states: ANY,
  parse: noArgs,
  async run(s) {
    // Poll even without a bus notification: another node's change may not have reached us.
    await s.sync(true, true);
    return { text: 'NOOP completed' };
  },
});

export const checkCommand = command({
  name: 'CHECK',
  states: SELECTED,
  parse: noArgs,
  async run(s) {
    await s.sync(true, true);
    return { text: 'CHECK completed' };
  },
});
