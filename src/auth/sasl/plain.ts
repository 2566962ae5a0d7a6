/**
 * PLAIN (RFC 4616): one message "authzid NUL authcid NUL password".
 * We authorize a user only as themselves: the authzid must be empty or equal
 * to the authcid. The initial response is optional; without one the client
 * gets an empty challenge.
 */
import type { SaslExchange } from '../types.js';
import { MAX_SASL_MESSAGE, type SaslBackend, utf8 } from './types.js';

export function createPlainExchange(backend: SaslBackend): SaslExchange {
  let state: 'start' | 'waiting' | 'done' = 'start';
  return {
    mechanism: 'PLAIN',
    async step(response) {
      if (state === 'done') return { kind: 'failure', result: { ok: false, reason: 'invalid' } };
      if (state === 'start' && response === null) {
        state = 'waiting';
        return { kind: 'challenge', data: Buffer.alloc(0) };
      }
      state = 'done';
      const parsed = parsePlain(response ?? Buffer.alloc(0));
      if (!parsed.ok) return { kind: 'failure', result: backend.gate.refuse(parsed.login, backend.ctx, 'PLAIN', parsed.error) };
      const result = await backend.verifyPassword(parsed.authcid, parsed.password, 'PLAIN');
      return result.ok ? { kind: 'success', user: result.user } : { kind: 'failure', result };
    },
  };
}

export type PlainMessage =
  | { ok: true; authzid: string; authcid: string; password: string }
  | { ok: false; error: string; login: string };

export function parsePlain(data: Buffer): PlainMessage {
  if (data.length > MAX_SASL_MESSAGE) return { ok: false, error: 'PLAIN message too long', login: '' };
  const text = utf8(data);
  if (text === null) return { ok: false, error: 'PLAIN message is not UTF-8', login: '' };
  const parts = text.split('\0');
  if (parts.length !== 3) return { ok: false, error: 'PLAIN message is not authzid NUL authcid NUL password', login: '' };
  const [authzid, authcid, password] = parts as [string, string, string];
  if (authcid === '' || password === '') return { ok: false, error: 'PLAIN message has an empty login or password', login: authcid };
  if (authzid !== '' && authzid.toLowerCase() !== authcid.toLowerCase()) {
    return { ok: false, error: 'PLAIN authzid differs from authcid', login: authcid };
  }
  return { ok: true, authzid, authcid, password };
}
