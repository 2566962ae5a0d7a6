/** CAPA (RFC 2449 5): valid in every state, never counts against the client. */
import { capabilities } from '../capabilities.js';
import { command } from './types.js';

export const capa = command<null>({
  name: 'CAPA',
  states: ['authorization', 'transaction'],
  parse: () => null,
  run(s) {
    const state = s.state.kind === 'transaction' ? 'transaction' : 'authorization';
    const caps = capabilities({
      pop3: s.ctx.config.pop3,
      state,
      canStartTls: s.canStartTls,
      plaintextAllowed: s.ctx.auth.plaintextAllowed(s.loginContext),
      mechanisms: state === 'authorization' ? s.ctx.auth.mechanisms(s.loginContext) : [],
    });
    s.multiline('Capability list follows', caps);
  },
});
