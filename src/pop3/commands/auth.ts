/**
 * AUTH (RFC 5034): SASL through the shared Authenticator.
 *
 *   AUTH                      -> the list of mechanisms (what Outlook and others ask first)
 *   AUTH mech [initial]       -> "+ challenge" lines until success or failure;
 *                                "=" is an empty initial response; "*" cancels.
 *
 * Additional data with success (SCRAM's server-final message) goes out as one
 * more "+ " challenge; the client's empty answer completes the login.
 */
import type { SaslExchange } from '../../auth/types.js';
import { errors } from '../errors.js';
import { command, type SessionApi } from './types.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Mechanisms that send the password itself: refused without TLS unless allowed. */
const PLAINTEXT = new Set(['PLAIN', 'LOGIN']);

function decode(data: string): Buffer | null {
  if (data === '=') return Buffer.alloc(0);
  return BASE64.test(data) ? Buffer.from(data, 'base64') : null;
}

export const auth = command<{ mechanism: string | null; initial: string | null }>({
  name: 'AUTH',
  states: ['authorization'],
  parse: (cmd) =>
    cmd.args.length > 2 ? errors.syntax('AUTH mechanism [initial-response]') : {
      mechanism: cmd.args[0]?.toUpperCase() ?? null,
      initial: cmd.args[1] ?? null,
    },
  async run(s, { mechanism, initial }) {
    if (mechanism === null) {
      s.multiline('Supported mechanisms follow', s.ctx.auth.mechanisms(s.loginContext));
      return;
    }
    const exchange = s.ctx.auth.startSasl(mechanism, s.loginContext);
    if (!exchange) {
      if (PLAINTEXT.has(mechanism) && !s.ctx.auth.plaintextAllowed(s.loginContext)) throw errors.plaintextDisallowed();
      throw errors.unknownMechanism();
    }
    let response: Buffer | null = null;
    if (initial !== null) {
      response = decode(initial);
      if (!response) throw errors.badBase64();
    }
    s.setState({ kind: 'sasl', exchange, succeeded: null });
    await step(s, exchange, response);
  },
});

async function step(s: SessionApi, exchange: SaslExchange, response: Buffer | null): Promise<void> {
  const r = await exchange.step(response);
  switch (r.kind) {
    case 'challenge':
      s.sendLine(`+ ${r.data.toString('base64')}`);
      return;
    case 'success':
      if (r.data && r.data.length) {
        s.setState({ kind: 'sasl', exchange, succeeded: r.user });
        s.sendLine(`+ ${r.data.toString('base64')}`);
        return;
      }
      s.setState({ kind: 'authorization', user: null });
      await s.completeLogin(r.user);
      return;
    case 'failure':
      s.setState({ kind: 'authorization', user: null });
      throw s.loginFailed(r.result);
  }
}

/** A line read while in the `sasl` state: the client's next response, or "*" to cancel. */
export async function continueSasl(s: SessionApi, line: string): Promise<void> {
  const state = s.state;
  if (state.kind !== 'sasl') return;
  if (line.trim() === '*') {
    s.setState({ kind: 'authorization', user: null });
    throw errors.saslCancelled();
  }
  if (state.succeeded) {
    const user = state.succeeded;
    s.setState({ kind: 'authorization', user: null });
    await s.completeLogin(user);
    return;
  }
  const response = decode(line.trim());
  if (!response) {
    s.setState({ kind: 'authorization', user: null });
    throw errors.badBase64();
  }
  await step(s, state.exchange, response);
}
