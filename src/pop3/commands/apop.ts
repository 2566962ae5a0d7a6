/** APOP name digest (RFC 1939 7): only when an administrator enabled it (pop3.apop). */
import { errors } from '../errors.js';
import { command } from './types.js';

export const apop = command<{ login: string; digest: string }>({
  name: 'APOP',
  states: ['authorization'],
  parse: (cmd) =>
    cmd.args.length === 2 && /^[0-9a-fA-F]{32}$/.test(cmd.args[1]!)
      ? { login: cmd.args[0]!, digest: cmd.args[1]!.toLowerCase() }
      : errors.syntax('APOP name digest'),
  async run(s, { login, digest }) {
    if (!s.apopTimestamp) throw errors.apopDisabled();
    const result = await s.ctx.auth.verifyApop(login, s.apopTimestamp, digest, s.loginContext);
    if (!result.ok) throw s.loginFailed(result);
    await s.completeLogin(result.user);
  },
});
