/** NAMESPACE (RFC 2342): one personal namespace, "/" as separator; no shared or other users'. */
import { AUTHENTICATED, command, noArgs } from './types.js';

export const namespaceCommand = command({
  name: 'NAMESPACE',
  states: AUTHENTICATED,
  parse: noArgs,
  async run(s) {
    s.send('* NAMESPACE (("" "/")) NIL NIL');
    return { text: 'NAMESPACE completed' };
  },
});
