/**
 * The SASL mechanisms we serve (RFC 4422), by name. Which of them a
 * connection is offered is decided in ../index.ts (config and TLS).
 */
import type { SaslExchange } from '../types.js';
import { createCramMd5Exchange } from './cram-md5.js';
import { createLoginExchange } from './login.js';
import { createPlainExchange } from './plain.js';
import { createScramSha256Exchange } from './scram-sha-256.js';
import type { SaslBackend } from './types.js';

export type MechanismName = 'PLAIN' | 'LOGIN' | 'CRAM-MD5' | 'SCRAM-SHA-256';

interface Mechanism {
  name: MechanismName;
  /** Sends the password itself: only over TLS or where config allows plaintext. */
  plaintext: boolean;
  create(backend: SaslBackend): SaslExchange;
}

export const MECHANISMS: ReadonlyArray<Mechanism> = [
  { name: 'PLAIN', plaintext: true, create: createPlainExchange },
  { name: 'LOGIN', plaintext: true, create: createLoginExchange },
  { name: 'CRAM-MD5', plaintext: false, create: createCramMd5Exchange },
  { name: 'SCRAM-SHA-256', plaintext: false, create: createScramSha256Exchange },
];

export function findMechanism(name: string): Mechanism | undefined {
  const upper = name.toUpperCase();
  return MECHANISMS.find((m) => m.name === upper);
}

export type { SaslBackend } from './types.js';
