/** LOGOUT (RFC 3501 6.1.3). */
import { ANY, command, noArgs } from './types.js';

export const logoutCommand = command({
  name: 'LOGOUT',
  states: ANY,
  parse: noArgs,
  syncAfter: false,
  async run(s) {
    s.send('* BYE Logging out');
    s.leaveSelected();
    s.state = { kind: 'logout' };
    return { text: 'LOGOUT completed' };
  },
});
