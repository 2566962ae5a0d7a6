/**
 * The contract of auth/: password verification with shared login throttling,
 * SASL server mechanisms, and credential derivation. Every protocol logs users
 * in only through an Authenticator, so throttling counts failures across SMTP,
 * IMAP, POP3 and the web alike.
 */
import type { User, UserCredentials } from '../store/types.js';

export type Protocol = 'smtp' | 'submission' | 'imap' | 'pop3' | 'web' | 'managesieve';

export interface LoginContext {
  /** Client IP address (no port). */
  ip: string;
  protocol: Protocol;
  /** Whether the connection is TLS-protected. */
  secure: boolean;
}

export type LoginFailure = {
  ok: false;
  /**
   * invalid: wrong login or password (say nothing more to the client);
   * disabled: account disabled; throttled: too many failures, try later;
   * tempfail: the store is unavailable.
   */
  reason: 'invalid' | 'disabled' | 'throttled' | 'tempfail';
  /** Seconds until a throttled client may try again. */
  retryAfter?: number;
};

export type LoginResult = { ok: true; user: User } | LoginFailure;

/** One SASL exchange (RFC 4422): feed client responses, get challenges, end in success/failure. */
export interface SaslExchange {
  readonly mechanism: string;
  /**
   * Next step. `response` is the decoded client data (null when the client sent
   * none yet, e.g. no initial response). Resolves to a challenge to send, or the end.
   */
  step(response: Buffer | null): Promise<
    | { kind: 'challenge'; data: Buffer }
    | { kind: 'success'; user: User; /** additional data with success (SCRAM server-final) */ data?: Buffer }
    | { kind: 'failure'; result: LoginFailure }
  >;
}

export interface Authenticator {
  /** Verify login + password (PLAIN, LOGIN, IMAP LOGIN, POP3 USER/PASS), throttled. */
  verifyPassword(login: string, password: string, ctx: LoginContext): Promise<LoginResult>;
  /** Mechanisms to advertise on this connection (plaintext ones only where allowed). */
  mechanisms(ctx: LoginContext): string[];
  /** Whether a plaintext password may be sent on this connection (config auth.plaintext). */
  plaintextAllowed(ctx: LoginContext): boolean;
  /** Start a SASL exchange; null if the mechanism is unknown or not allowed here. */
  startSasl(mechanism: string, ctx: LoginContext): SaslExchange | null;
  /** POP3 APOP (RFC 1939 7): digest = md5(timestamp + secret). Needs a sealed secret. */
  verifyApop(login: string, timestamp: string, digestHex: string, ctx: LoginContext): Promise<LoginResult>;
  /** Verify a CRAM-MD5 response for a challenge (SMTP via smtp-server's callback). */
  verifyCramMd5(login: string, challenge: string, digestHex: string, ctx: LoginContext): Promise<LoginResult>;
  /** Derive everything the store keeps for a password (argon2id, SCRAM keys, sealed secret if enabled). */
  deriveCredentials(password: string): Promise<Omit<UserCredentials, 'userId'>>;
  /** Seconds until this IP may try again (0 = now); protocols may refuse early. */
  throttledFor(ip: string, login?: string): number;
}
