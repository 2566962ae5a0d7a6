/**
 * AUTHENTICATE (RFC 3501 6.2.2, RFC 4959 SASL-IR): challenges as "+ base64",
 * answers as one base64 line each, "*" cancels. Mechanisms come from auth/.
 */
import { bad, no } from '../errors.js';
import { ParseError } from '../parser/cursor.js';
import { command, NOT_AUTHENTICATED } from './types.js';
import { finishLogin } from './login.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decode(text: string): Buffer {
  if (text === '=') return Buffer.alloc(0);
  if (!BASE64.test(text) || text.length % 4 !== 0) throw bad(null, 'Invalid base64');
  return Buffer.from(text, 'base64');
}

export const authenticateCommand = command({
  name: 'AUTHENTICATE',
  states: NOT_AUTHENTICATED,
  parse(c) {
    c.sp();
    const mechanism = c.atom('a mechanism').toUpperCase();
    let initial: string | null = null;
    if (c.trySp()) {
      initial = c.token((b) => b > 0x20 && b < 0x7f, 'an initial response');
      if (initial !== '=' && (!BASE64.test(initial) || initial.length % 4 !== 0)) throw new ParseError('Invalid base64 in initial response');
    }
    return { mechanism, initial };
  },
  async run(s, { mechanism, initial }) {
    const exchange = s.ctx.service.auth.startSasl(mechanism, s.loginContext());
    if (!exchange) {
      const plainOnly = ['PLAIN', 'LOGIN'].includes(mechanism) && !s.ctx.service.auth.plaintextAllowed(s.loginContext());
      throw plainOnly ? no('PRIVACYREQUIRED', 'Plaintext mechanisms need TLS') : no('CANNOT', `Unsupported mechanism ${mechanism}`);
    }
    let response: Buffer | null = initial === null ? null : decode(initial);
    for (let round = 0; round < 10; round++) {
      const step = await exchange.step(response);
      if (step.kind === 'failure') return finishLogin(s, step.result, mechanism);
      if (step.kind === 'success') {
        if (step.data && step.data.length > 0) {
          // IMAP has no success-with-data: send it as a last challenge and expect an empty answer.
          s.send(`+ ${step.data.toString('base64')}`);
          const line = await readResponse(s);
          if (line === null) throw bad(null, 'Authentication cancelled');
        }
        return finishLogin(s, { ok: true, user: step.user }, mechanism);
      }
      s.send(`+ ${step.data.toString('base64')}`);
      const line = await readResponse(s);
      if (line === null) throw bad(null, 'Authentication cancelled');
      response = decode(line);
    }
    throw bad(null, 'Too many authentication rounds');
  },
});

/** One client line of the exchange; null when cancelled ("*"). */
async function readResponse(s: import('../session.js').Session): Promise<string | null> {
  await s.conn.flush();
  const ev = await s.conn.nextLine();
  if (ev.kind === 'eof') throw bad(null, 'Connection closed');
  if (ev.kind === 'tooLong') throw bad(null, 'Authentication response too long');
  const text = ev.text.toString('latin1').trim();
  if (text === '*') return null;
  return text;
}
