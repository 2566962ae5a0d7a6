/** CAPABILITY (RFC 3501 6.1.1). */
import { ANY, command, noArgs } from './types.js';

export const capabilityCommand = command({
  name: 'CAPABILITY',
  states: ANY,
  parse: noArgs,
  async run(s) {
    s.send(`* CAPABILITY ${s.capabilityList().join(' ')}`);
    return { text: 'CAPABILITY completed' };
  },
});
