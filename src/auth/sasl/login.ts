/**
 * LOGIN (draft-murchison-sasl-login): the server asks "Username:" then
 * "Password:"; Outlook and older clients still use it. An initial response,
 * when given, is the username.
 */
import type { SaslExchange } from '../types.js';
import { MAX_SASL_MESSAGE, type SaslBackend, utf8 } from './types.js';

const USERNAME = Buffer.from('Username:');
const PASSWORD = Buffer.from('Password:');

export function createLoginExchange(backend: SaslBackend): SaslExchange {
  let state: { kind: 'start' } | { kind: 'username' } | { kind: 'password'; login: string } | { kind: 'done' } = { kind: 'start' };
  const fail = (login: string, error: string) => {
    state = { kind: 'done' };
    return { kind: 'failure' as const, result: backend.gate.refuse(login, backend.ctx, 'LOGIN', error) };
  };
  return {
    mechanism: 'LOGIN',
    async step(response) {
      switch (state.kind) {
        case 'start':
        case 'username': {
          if (response === null) {
            if (state.kind === 'username') return fail('', 'LOGIN without a username');
            state = { kind: 'username' };
            return { kind: 'challenge', data: USERNAME };
          }
          const login = response.length <= MAX_SASL_MESSAGE ? utf8(response) : null;
          if (login === null || login === '') return fail('', 'LOGIN username is empty, too long or not UTF-8');
          state = { kind: 'password', login };
          return { kind: 'challenge', data: PASSWORD };
        }
        case 'password': {
          const { login } = state;
          const password = response && response.length <= MAX_SASL_MESSAGE ? utf8(response) : null;
          if (password === null || password === '') return fail(login, 'LOGIN password is empty, too long or not UTF-8');
          state = { kind: 'done' };
          const result = await backend.verifyPassword(login, password, 'LOGIN');
          return result.ok ? { kind: 'success', user: result.user } : { kind: 'failure', result };
        }
        case 'done':
          return { kind: 'failure', result: { ok: false, reason: 'invalid' } };
      }
    },
  };
}
