/**
 * USER and PASS (RFC 1939 7). USER only records the name: whether it exists is
 * not revealed (every USER gets +OK), so names cannot be harvested. Both are
 * refused where plaintext passwords are not allowed (no TLS, auth.plaintext).
 */
import { errors } from '../errors.js';
import { command } from './types.js';

/** A login name is at most this long (RFC 2449 allows 40-octet arguments; addresses can be longer). */
const MAX_LOGIN = 255;

export const user = command<string>({
  name: 'USER',
  states: ['authorization'],
  parse: (cmd) => {
    const name = cmd.rest.trim();
    return name.length === 0 || name.length > MAX_LOGIN ? errors.syntax('USER name') : name;
  },
  run(s, name) {
    if (!s.ctx.auth.plaintextAllowed(s.loginContext)) throw errors.plaintextDisallowed();
    s.setState({ kind: 'authorization', user: name });
    s.ok('Send PASS');
  },
});

export const pass = command<string>({
  name: 'PASS',
  states: ['authorization'],
  // The whole rest of the line: a password may contain spaces (RFC 1939 7).
  parse: (cmd) => (cmd.rest.length === 0 ? errors.syntax('PASS password') : cmd.rest),
  async run(s, password) {
    if (!s.ctx.auth.plaintextAllowed(s.loginContext)) throw errors.plaintextDisallowed();
    if (s.state.kind !== 'authorization' || s.state.user === null) throw errors.userFirst();
    const login = s.state.user;
    // A failed PASS needs a new USER (RFC 1939 7: the server returns to the start).
    s.setState({ kind: 'authorization', user: null });
    const result = await s.ctx.auth.verifyPassword(login, password, s.loginContext);
    if (!result.ok) throw s.loginFailed(result);
    await s.completeLogin(result.user);
  },
});
