/**
 * The SCRAM-SHA-256 exchange (RFC 5802, RFC 7677) as a SaslExchange; the
 * message formats and key arithmetic are in ../scram.ts.
 *
 * A login that does not exist gets a server-first like any other (a salt made
 * up from the login with a server-side key, so it is stable across attempts,
 * and the usual iteration count) and fails only at the proof, the way a wrong
 * password does.
 */
import type { SaslExchange } from '../types.js';
import type { Attempt } from '../login.js';
import {
  DEFAULT_SCRAM_ITERATIONS,
  parseClientFinal,
  parseClientFirst,
  parseScramCredentials,
  type ScramCredentials,
  serverFinalMessage,
  serverFirstMessage,
  serverNonce,
  verifyClientProof,
} from '../scram.js';
import { MAX_SASL_MESSAGE, type SaslBackend, utf8 } from './types.js';

const MECH = 'SCRAM-SHA-256';

type State =
  | { kind: 'start' }
  | { kind: 'waitingFirst' }
  | { kind: 'sentFirst'; attempt: Attempt; creds: ScramCredentials | null; gs2Header: string; nonce: string; authPrefix: string }
  | { kind: 'done' };

export function createScramSha256Exchange(backend: SaslBackend): SaslExchange {
  let state: State = { kind: 'start' };
  const refuse = (login: string, error: string) => {
    state = { kind: 'done' };
    return { kind: 'failure' as const, result: backend.gate.refuse(login, backend.ctx, MECH, error) };
  };

  return {
    mechanism: MECH,
    async step(response) {
      if (state.kind === 'start') {
        if (response === null) {
          state = { kind: 'waitingFirst' };
          return { kind: 'challenge', data: Buffer.alloc(0) };
        }
        state = { kind: 'waitingFirst' }; // the initial response is the client-first message
      }
      switch (state.kind) {
        case 'waitingFirst': {
          const text = response && response.length <= MAX_SASL_MESSAGE ? utf8(response) : null;
          if (text === null) return refuse('', 'SCRAM client-first is missing, too long or not UTF-8');
          const first = parseClientFirst(text);
          if (!first.ok) return refuse('', `SCRAM client-first: ${first.error}`);
          const { authcid, authzid, gs2Header, clientNonce, bare } = first.value;
          if (authzid !== '' && authzid.toLowerCase() !== authcid.toLowerCase()) {
            return refuse(authcid, 'SCRAM authzid differs from authcid');
          }
          const prepared = await backend.gate.prepare(authcid, backend.ctx, MECH);
          if (!prepared.ok) {
            state = { kind: 'done' };
            return { kind: 'failure', result: prepared.result };
          }
          const { attempt } = prepared;
          let creds: ScramCredentials | null = null;
          if (attempt.creds?.scramSha256) {
            try {
              creds = parseScramCredentials(attempt.creds.scramSha256);
            } catch {
              creds = null; // treated like a login without SCRAM credentials
            }
          }
          let salt: Buffer;
          try {
            salt = creds ? creds.salt : await backend.fakeScramSalt(authcid);
          } catch (err) {
            state = { kind: 'done' };
            return { kind: 'failure', result: backend.gate.abort(attempt, err) };
          }
          const nonce = clientNonce + serverNonce();
          const serverFirst = serverFirstMessage(nonce, salt, creds ? creds.iterations : DEFAULT_SCRAM_ITERATIONS);
          state = { kind: 'sentFirst', attempt, creds, gs2Header, nonce, authPrefix: `${bare},${serverFirst},` };
          return { kind: 'challenge', data: Buffer.from(serverFirst) };
        }
        case 'sentFirst': {
          const { attempt, creds, gs2Header, nonce, authPrefix } = state;
          state = { kind: 'done' };
          const text = response && response.length <= MAX_SASL_MESSAGE ? utf8(response) : null;
          const final = text === null ? null : parseClientFinal(text);
          if (!final?.ok) return refuse(attempt.login, `SCRAM client-final: ${final ? final.error : 'missing or not UTF-8'}`);
          const { channelBinding, nonce: echoed, proof, withoutProof } = final.value;
          if (echoed !== nonce) return refuse(attempt.login, 'SCRAM client-final nonce does not match');
          if (!channelBinding.equals(Buffer.from(gs2Header))) return refuse(attempt.login, 'SCRAM channel binding does not match the gs2 header');
          const authMessage = authPrefix + withoutProof;
          const result = backend.gate.settle(attempt, () => creds !== null && verifyClientProof(creds, authMessage, proof));
          if (!result.ok) return { kind: 'failure', result };
          return { kind: 'success', user: result.user, data: Buffer.from(serverFinalMessage(creds!, authMessage)) };
        }
        case 'done':
          return { kind: 'failure', result: { ok: false, reason: 'invalid' } };
      }
    },
  };
}
