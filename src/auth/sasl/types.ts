/** What a SASL mechanism may ask of the authenticator (internal to auth/). */
import type { LoginContext, LoginResult } from '../types.js';
import type { LoginGate } from '../login.js';

export interface SaslBackend {
  readonly ctx: LoginContext;
  /** Our name, for CRAM-MD5 challenges. */
  readonly hostname: string;
  readonly gate: LoginGate;
  verifyPassword(login: string, password: string, mechanism: string): Promise<LoginResult>;
  verifyCramMd5(login: string, challenge: string, digestHex: string): Promise<LoginResult>;
  /** A stable made-up salt for a login that does not exist, so SCRAM does not reveal which do. */
  fakeScramSalt(login: string): Promise<Buffer>;
}

/** UTF-8 text, or null if the bytes are not valid UTF-8. */
export function utf8(data: Buffer): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return null;
  }
}

/** Most bytes one client message of a mechanism may hold. */
export const MAX_SASL_MESSAGE = 4096;
