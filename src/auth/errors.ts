/**
 * The auth module's error catalogue. Login failures are not errors (they are
 * LoginResult values); these are the things that go wrong with keys and
 * stored material, which an operator has to act on.
 */
export type AuthErrorCode =
  /** The secret key file is unreadable or has the wrong length. */
  | 'secretKey'
  /** A sealed string is not in a format we know (wrong version or shape). */
  | 'sealedFormat'
  /** A sealed string failed authentication: tampered with, or sealed with another key. */
  | 'sealedTampered'
  /** Stored SCRAM credentials are malformed. */
  | 'scramCredentials'
  /** A password that cannot be set (empty, or absurdly long). */
  | 'password';

export class AuthError extends Error {
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

export function isAuthError(err: unknown, code?: AuthErrorCode): err is AuthError {
  return err instanceof AuthError && (code === undefined || err.code === code);
}
