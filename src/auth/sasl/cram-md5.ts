/**
 * CRAM-MD5 (RFC 2195): the server sends a unique challenge
 * "<random.time@hostname>", the client answers "login SP hex(HMAC-MD5(password, challenge))".
 * Checking it needs the password itself, which is why it is only offered when
 * an administrator enables it (and a sealed copy is kept).
 */
import { randomBytes } from 'node:crypto';
import type { SaslExchange } from '../types.js';
import { MAX_SASL_MESSAGE, type SaslBackend, utf8 } from './types.js';

export function cramMd5Challenge(hostname: string, now = Date.now()): string {
  return `<${randomBytes(8).readBigUInt64BE()}.${now}@${hostname}>`;
}

export function createCramMd5Exchange(backend: SaslBackend): SaslExchange {
  let state: { kind: 'start' } | { kind: 'sent'; challenge: string } | { kind: 'done' } = { kind: 'start' };
  return {
    mechanism: 'CRAM-MD5',
    async step(response) {
      if (state.kind === 'start') {
        // The server speaks first: an initial response is a protocol error.
        if (response !== null && response.length > 0) {
          state = { kind: 'done' };
          return { kind: 'failure', result: backend.gate.refuse('', backend.ctx, 'CRAM-MD5', 'CRAM-MD5 with an initial response') };
        }
        const challenge = cramMd5Challenge(backend.hostname);
        state = { kind: 'sent', challenge };
        return { kind: 'challenge', data: Buffer.from(challenge) };
      }
      if (state.kind === 'done') return { kind: 'failure', result: { ok: false, reason: 'invalid' } };
      const { challenge } = state;
      state = { kind: 'done' };
      const text = response && response.length <= MAX_SASL_MESSAGE ? utf8(response) : null;
      const sp = text ? text.lastIndexOf(' ') : -1;
      if (text === null || sp <= 0) {
        return { kind: 'failure', result: backend.gate.refuse('', backend.ctx, 'CRAM-MD5', 'CRAM-MD5 response is not "login digest"') };
      }
      const result = await backend.verifyCramMd5(text.slice(0, sp), challenge, text.slice(sp + 1));
      return result.ok ? { kind: 'success', user: result.user } : { kind: 'failure', result };
    },
  };
}
