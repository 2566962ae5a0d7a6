/**
 * The IMAP error catalogue: every failure a command can end in, with the
 * response it gets (RFC 5530 response codes). Anything not listed here is an
 * internal error: the client sees "NO [SERVERBUG]" and the log has the detail.
 */
import { isStoreError } from '../store/errors.js';
import { ParseError } from './parser/cursor.js';

export type Status = 'OK' | 'NO' | 'BAD';

export class ImapError extends Error {
  constructor(
    readonly status: 'NO' | 'BAD',
    readonly code: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'ImapError';
  }
}

export const no = (code: string | null, text: string) => new ImapError('NO', code, text);
export const bad = (code: string | null, text: string) => new ImapError('BAD', code, text);

export const errors = {
  nonexistent: (what = 'Mailbox does not exist') => no('NONEXISTENT', what),
  tryCreate: () => no('TRYCREATE', 'Mailbox does not exist'),
  alreadyExists: () => no('ALREADYEXISTS', 'Mailbox already exists'),
  noInbox: () => no('CANNOT', 'INBOX cannot be deleted'),
  readOnly: () => no('READ-ONLY', 'Mailbox is read-only'),
  overQuota: () => no('OVERQUOTA', 'Quota exceeded'),
  tooBig: () => no('TOOBIG', 'Message too large'),
  authFailed: () => no('AUTHENTICATIONFAILED', 'Authentication failed'),
  throttled: () => no('UNAVAILABLE', 'Too many failed logins; try again later'),
  disabled: () => no('AUTHORIZATIONFAILED', 'Account disabled'),
  unavailable: () => no('UNAVAILABLE', 'Temporary failure; try again later'),
  privacyRequired: () => no('PRIVACYREQUIRED', 'Plaintext authentication is not allowed without TLS'),
  badMailboxName: (why: string) => no('CANNOT', why),
  wrongState: () => bad(null, 'Command not valid in this state'),
  unknownCommand: (name: string) => bad(null, `Unknown command ${name.slice(0, 40)}`),
  internal: () => no('SERVERBUG', 'Internal error'),
  unknownCte: () => no('UNKNOWN-CTE', 'Unknown Content-Transfer-Encoding'),
} as const;

/** Maps what a command threw to a response; null means internal (log it). */
export function toImapError(err: unknown): ImapError | null {
  if (err instanceof ImapError) return err;
  if (err instanceof ParseError) {
    // An unsupported charset is NO, not BAD (RFC 3501 6.4.4).
    return err.code?.startsWith('BADCHARSET') ? no(err.code, err.message) : bad(err.code ?? null, err.message);
  }
  if (isStoreError(err)) {
    switch (err.code) {
      case 'exists':
        return errors.alreadyExists();
      case 'notFound':
        return errors.nonexistent();
      case 'overQuota':
        return errors.overQuota();
      case 'invalid':
        return no('CANNOT', err.message);
      case 'inUse':
        return no('INUSE', err.message);
      case 'unavailable':
        return errors.unavailable();
    }
  }
  return null;
}
