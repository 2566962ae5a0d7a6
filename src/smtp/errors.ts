/**
 * Every reply mailroom's SMTP code gives on its own (smtp-server answers the
 * pure syntax errors itself). Each carries its basic code, RFC 3463 enhanced
 * code, text and whether it is temporary; `smtpError()` turns one into the
 * Error shape smtp-server's callbacks expect.
 *
 * The text of an error sent to smtp-server starts with the enhanced code: the
 * patch in library.ts then sends it as given instead of guessing an enhanced
 * code from the basic one (smtp-server would say 5.6.0 for every 554).
 */
export interface SmtpReply {
  code: number;
  enhanced: string;
  text: string;
}

export function reply(code: number, enhanced: string, text: string): SmtpReply {
  return { code, enhanced, text };
}

export const replies = {
  // connect
  accessDenied: reply(554, '5.7.1', 'Access denied'),
  tooManyConnections: reply(421, '4.7.0', 'Too many connections from your address, try again later'),
  shuttingDown: reply(421, '4.3.2', 'Server shutting down'),
  tooManyErrors: reply(421, '4.7.0', 'Too many errors, closing connection'),

  // AUTH
  authRequired: reply(530, '5.7.0', 'Authentication required'),
  authInvalid: reply(535, '5.7.8', 'Authentication credentials invalid'),
  authThrottled: reply(454, '4.7.0', 'Too many failed logins, try again later'),
  authTempfail: reply(454, '4.7.0', 'Temporary authentication failure'),
  authTooManyFailures: reply(421, '4.7.0', 'Too many failed logins, closing connection'),
  authzidMismatch: reply(535, '5.7.8', 'Authorization identity must match the login'),
  encryptionRequired: reply(538, '5.7.11', 'Encryption required for requested authentication mechanism'),

  // MAIL FROM
  rateLimited: reply(450, '4.7.1', 'Message rate limit exceeded, try again later'),
  badSender: reply(553, '5.1.7', 'Bad sender address syntax'),
  senderNotOwned: reply(553, '5.7.1', 'Sender address not owned by the authenticated user'),

  // RCPT TO
  badRecipient: reply(501, '5.1.3', 'Bad recipient address syntax'),
  noSuchUser: reply(550, '5.1.1', 'No such user here'),

  // DATA
  tooBig: reply(552, '5.3.4', 'Message size exceeds fixed maximum message size'),
  nulBytes: reply(550, '5.6.0', 'Message contains NUL characters'),
  tooManyHops: reply(554, '5.4.6', 'Too many Received headers: mail loop?'),
  fromNotOwned: reply(550, '5.7.1', 'From: header address not owned by the authenticated user'),
  dmarcReject: reply(550, '5.7.1', 'Message rejected: DMARC policy of the sender domain'),
  localError: reply(451, '4.3.0', 'Local error in processing, try again later'),
} as const;

export type SmtpErrorName = keyof typeof replies;

/** An Error carrying an SMTP reply, as smtp-server's callbacks take it. */
export class SmtpError extends Error {
  readonly responseCode: number;
  readonly reply: SmtpReply;
  constructor(r: SmtpReply) {
    super(`${r.enhanced} ${r.text}`);
    this.name = 'SmtpError';
    this.responseCode = r.code;
    this.reply = r;
  }
  get temporary(): boolean {
    return this.responseCode < 500;
  }
}

export function smtpError(r: SmtpReply | SmtpErrorName): SmtpError {
  return new SmtpError(typeof r === 'string' ? replies[r] : r);
}

export function formatReply(r: SmtpReply): string {
  return `${r.code} ${r.enhanced} ${r.text}`;
}
