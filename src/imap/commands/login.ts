/** LOGIN (RFC 3501 6.2.3): refused without TLS unless auth.plaintext allows it (LOGINDISABLED). */
import type { LoginResult } from '../../auth/types.js';
import { errors } from '../errors.js';
import type { Session } from '../session.js';
import { command, NOT_AUTHENTICATED, type Done } from './types.js';

export const loginCommand = command({
  name: 'LOGIN',
  states: NOT_AUTHENTICATED,
  parse(c) {
    c.sp();
    const login = c.astring().toString('utf8');
    c.sp();
    const password = c.astring().toString('utf8');
    return { login, password };
  },
  async run(s, { login, password }) {
    const lc = s.loginContext();
    if (!s.ctx.service.auth.plaintextAllowed(lc)) throw errors.privacyRequired();
    const result = await s.ctx.service.auth.verifyPassword(login, password, lc);
    return finishLogin(s, result, login);
  },
});

/** Shared by LOGIN and AUTHENTICATE: state change or the right refusal. */
export function finishLogin(s: Session, result: LoginResult, login: string): Done {
  if (result.ok) {
    s.loggedIn(result.user);
    return { code: `CAPABILITY ${s.capabilityList().join(' ')}`, text: 'Logged in' };
  }
  if (s.state.kind === 'notAuthenticated') s.state.failures++;
  s.log.info({ login: login.slice(0, 100), reason: result.reason }, 'imap login failed');
  switch (result.reason) {
    case 'throttled':
      throw errors.throttled();
    case 'disabled':
      throw errors.disabled();
    case 'tempfail':
      throw errors.unavailable();
    default:
      throw errors.authFailed();
  }
}
