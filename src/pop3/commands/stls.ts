/** STLS (RFC 2595 4): only before login, only on a plain connection. */
import { errors } from '../errors.js';
import { command } from './types.js';

export const stls = command<null>({
  name: 'STLS',
  states: ['authorization'],
  parse: (cmd) => (cmd.args.length ? errors.syntax('STLS') : null),
  async run(s) {
    if (s.loginContext.secure) throw errors.alreadyTls();
    if (!s.canStartTls) throw errors.tlsUnavailable();
    await s.startTls();
  },
});
