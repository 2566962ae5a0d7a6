/**
 * Every -ERR the POP3 server sends, in one place. A reply carries its RFC 2449
 * response code where one applies (RESP-CODES, AUTH-RESP-CODE):
 *   [IN-USE]      the maildrop is held by another session (RFC 2449 8.1.1)
 *   [LOGIN-DELAY] logged in too recently (RFC 2449 8.1.2)
 *   [AUTH]        the credentials are the problem: ask the user again (RFC 3206 5)
 *   [SYS/TEMP]    a temporary problem on our side: try later (RFC 3206 4)
 *   [SYS/PERM]    a lasting problem: ask the administrator (RFC 3206 4)
 * and whether it counts toward the connection's bad-command limit. Internal
 * details never reach the client; they go to the log.
 */

export type RespCode = 'IN-USE' | 'LOGIN-DELAY' | 'AUTH' | 'SYS/TEMP' | 'SYS/PERM';

export class Pop3Error extends Error {
  constructor(
    readonly text: string,
    readonly code: RespCode | null = null,
    /** Counts as a bad command (protocol misuse), not a refusal of a valid one. */
    readonly bad = false,
  ) {
    super(text);
    this.name = 'Pop3Error';
  }

  /** The reply line, CRLF included. */
  line(): string {
    return `-ERR ${this.code ? `[${this.code}] ` : ''}${this.text}\r\n`;
  }
}

const bad = (text: string) => new Pop3Error(text, null, true);

export const errors = {
  unknownCommand: (name: string) => bad(`Unknown command: ${name.slice(0, 20)}`),
  notAKeyword: () => bad('Unknown command'),
  emptyLine: () => bad('Empty command line'),
  lineTooLong: () => bad('Line too long'),
  wrongState: (name: string, state: 'authorization' | 'transaction') =>
    bad(state === 'authorization' ? `${name} is not valid before login` : `${name} is not valid after login`),
  syntax: (usage: string) => bad(`Syntax: ${usage}`),
  badNumber: (arg: string) => bad(`Invalid message number: ${arg.slice(0, 20)}`),
  noSuchMessage: (n: number) => bad(`No such message: ${n}`),
  deleted: (n: number) => bad(`Message ${n} is deleted`),
  badLineCount: () => bad('Invalid number of lines'),
  tooManyBad: () => new Pop3Error('Too many bad commands, closing connection'),
  tooManyBeforeLogin: () => new Pop3Error('Too many commands before login, closing connection'),
  tooManyLoginFailures: () => new Pop3Error('Too many failed logins, closing connection', 'AUTH'),
  timeout: () => new Pop3Error('Disconnected for inactivity'),
  httpOnPopPort: () => new Pop3Error('This is a POP3 server'),
  tooManyConnections: () => new Pop3Error('Too many connections from your address', 'SYS/TEMP'),
  shuttingDown: () => new Pop3Error('Server shutting down', 'SYS/TEMP'),

  // logins
  userFirst: () => bad('Send USER first'),
  plaintextDisallowed: () => new Pop3Error('Plaintext authentication disallowed on non-secure connections; use STLS', 'AUTH'),
  authFailed: () => new Pop3Error('Authentication failed', 'AUTH'),
  disabled: () => new Pop3Error('Account disabled; contact your administrator', 'SYS/PERM'),
  throttled: (seconds?: number) =>
    new Pop3Error(`Too many failed logins; try again${seconds ? ` in ${Math.ceil(seconds)} seconds` : ' later'}`, 'SYS/TEMP'),
  tempfail: () => new Pop3Error('Temporary server problem; try again later', 'SYS/TEMP'),
  inUse: () => new Pop3Error('Maildrop is in use by another session', 'IN-USE'),
  loginDelay: (seconds: number) => new Pop3Error(`Logged in too recently; the minimum is ${seconds} seconds between logins`, 'LOGIN-DELAY'),
  apopDisabled: () => bad('APOP is not enabled'),
  unknownMechanism: () => bad('Unsupported authentication mechanism'),
  saslCancelled: () => new Pop3Error('Authentication cancelled'),
  badBase64: () => new Pop3Error('Invalid base64 data', 'AUTH'),
  alreadyTls: () => bad('TLS is already active'),
  tlsUnavailable: () => bad('STLS is not available'),

  // the UPDATE state
  expungeFailed: () => new Pop3Error('Some deleted messages were not removed; try again later', 'SYS/TEMP'),
  lockLost: () => new Pop3Error('Maildrop lock was lost; nothing was deleted', 'SYS/TEMP'),
  messageGone: (n: number) => new Pop3Error(`Message ${n} was removed by another session`),
  internal: () => new Pop3Error('Internal server error', 'SYS/TEMP'),
};
