/**
 * What can go wrong while fetching from an external mailbox. Every error a poll
 * records (and `mailroom fetch list` shows) is a FetchError with a code, so an
 * operator sees "auth: ..." or "connect: ..." rather than a stack trace.
 *
 * `temporary` tells the scheduler whether retrying at the next interval can
 * help. Nothing here is ever a reason to drop a message: a failed message stays
 * on the remote side and is tried again at the next poll.
 */

export type FetchErrorCode =
  /** TCP connect refused, DNS failure, host unreachable. */
  | 'connect'
  /** TLS handshake failed, certificate refused, STARTTLS/STLS not offered. */
  | 'tls'
  /** The remote refused our login (wrong password, locked account). */
  | 'auth'
  /** The remote said something we cannot understand, or refused a command. */
  | 'protocol'
  /** No answer within the time limit. */
  | 'timeout'
  /** The connection closed under us (e.g. mid-RETR). */
  | 'closed'
  /** The remote lacks something we need (UIDL, a folder). */
  | 'unsupported'
  /** Local delivery failed (store unavailable, quota); the message stays remote. */
  | 'delivery'
  /** Another process or node is polling this account right now. */
  | 'busy'
  /** The account is misconfigured (unknown target user, password cannot be unsealed). */
  | 'config';

export class FetchError extends Error {
  constructor(
    readonly code: FetchErrorCode,
    message: string,
    readonly temporary = code !== 'config',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FetchError';
  }

  /** The one line recorded in the store and shown by `fetch list`. */
  get summary(): string {
    return `${this.code}: ${this.message}`;
  }
}

export function isFetchError(err: unknown, code?: FetchErrorCode): err is FetchError {
  return err instanceof FetchError && (code === undefined || err.code === code);
}

/** Turns anything thrown into a FetchError; socket errors keep their meaning. */
export function toFetchError(err: unknown, fallback: FetchErrorCode = 'protocol'): FetchError {
  if (err instanceof FetchError) return err;
  const e = err as NodeJS.ErrnoException & { authenticationFailed?: boolean; responseText?: string };
  const message = e?.message ?? String(err);
  if (e?.authenticationFailed) return new FetchError('auth', e.responseText || message, true, { cause: err });
  switch (e?.code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new FetchError('connect', message, true, { cause: err });
    case 'ECONNRESET':
    case 'EPIPE':
    case 'NoConnection':
    case 'EConnectionClosed':
      return new FetchError('closed', message, true, { cause: err });
    case 'ETIMEDOUT':
    case 'ETIMEOUT':
    case 'CONNECT_TIMEOUT':
    case 'GREETING_TIMEOUT':
      return new FetchError('timeout', message, true, { cause: err });
  }
  if (typeof e?.code === 'string' && (e.code.startsWith('ERR_TLS') || e.code.startsWith('ERR_SSL') || /CERT|SELF_SIGNED/.test(e.code))) {
    return new FetchError('tls', message, true, { cause: err });
  }
  return new FetchError(fallback, message, true, { cause: err });
}
