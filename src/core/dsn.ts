/**
 * Delivery status notifications: the text of bounces, delay warnings and
 * success reports (RFC 3464 multipart/report; RFC 3461 NOTIFY/RET/ENVID/ORCPT;
 * RFC 3463 enhanced status codes; RFC 3834 Auto-Submitted).
 *
 * Pure: no clock, no randomness, no I/O. The caller passes the date, the
 * Message-ID and the MIME boundary, so the same input always gives the same
 * bytes and the tests can compare them.
 *
 * Rules kept here:
 * - A DSN is sent from the null sender (the caller's job) and carries
 *   `Auto-Submitted: auto-replied`, so no well-behaved system answers it.
 * - Every recipient of one report shares one kind (failure, delay, success or
 *   relayed): one report per kind, as Postfix does.
 * - The machine-readable part is US-ASCII as RFC 3464 requires; a reply or an
 *   address that is not is reduced to ASCII (utf-8 addresses use the `utf-8`
 *   address type of RFC 6533 and message/global-delivery-status).
 * - The original comes back as text/rfc822-headers unless RET=FULL asked for
 *   the whole message and the caller passed it.
 */

export type DsnKind = 'failure' | 'delay' | 'success' | 'relayed';

export interface DsnRecipient {
  /** The address the attempt was made to (Final-Recipient). */
  finalRecipient: string;
  /** RFC 3461 ORCPT, xtext already decoded (as smtp-server gives it), e.g. "rfc822;bob@example.org". */
  originalRecipient?: string | null;
  /** RFC 3463 status, e.g. "5.1.1"; derived from `reply` when omitted. */
  status?: string;
  /** Remote host that answered (Remote-MTA), if any. */
  remoteMta?: string | null;
  /** The remote SMTP reply or our own explanation (Diagnostic-Code). */
  reply?: string | null;
  /** Whether the reply came from a remote SMTP server (diagnostic type smtp) or from us (X-mailroom). */
  replyFromRemote?: boolean;
  lastAttemptDate?: Date | null;
  /** For delay reports: when we give up. */
  willRetryUntil?: Date | null;
}

export interface DsnInput {
  kind: DsnKind;
  /** Our host name (Reporting-MTA, and the From: domain unless `from` is given). */
  reportingMta: string;
  /** Who gets the report: the envelope sender of the original message. */
  to: string;
  /** Default: "Mail Delivery System <MAILER-DAEMON@reportingMta>". */
  from?: string;
  date: Date;
  /** Without angle brackets. */
  messageId: string;
  boundary: string;
  /** Queue id of the original, for the administrator (X-Mailroom-Queue-ID). */
  queueId?: string;
  /** RFC 3461 ENVID, xtext already decoded. */
  envelopeId?: string | null;
  arrivalDate?: Date | null;
  recipients: DsnRecipient[];
  /** The original message (or at least its header); CRLF line ends. */
  original: Buffer;
  /** 'FULL' returns the whole message given in `original`; anything else only its header. */
  ret?: 'FULL' | 'HDRS' | null;
}

const CRLF = '\r\n';

/** RFC 3461 NOTIFY as stored ("SUCCESS,DELAY", "NEVER", or null for none given). */
export interface NotifyPolicy {
  never: boolean;
  success: boolean;
  failure: boolean;
  delay: boolean;
}

export function parseNotify(notify: string | null | undefined): NotifyPolicy {
  if (!notify) {
    // RFC 3461 4.1: without NOTIFY the default is FAILURE or FAILURE,DELAY; we warn on delay too.
    return { never: false, success: false, failure: true, delay: true };
  }
  const words = new Set(
    notify
      .split(',')
      .map((w) => w.trim().toUpperCase())
      .filter(Boolean),
  );
  if (words.has('NEVER')) return { never: true, success: false, failure: false, delay: false };
  return { never: false, success: words.has('SUCCESS'), failure: words.has('FAILURE'), delay: words.has('DELAY') };
}

/** Whether a recipient with this NOTIFY wants a report of this kind. */
export function wantsReport(notify: string | null | undefined, kind: DsnKind): boolean {
  const p = parseNotify(notify);
  switch (kind) {
    case 'failure':
      return p.failure;
    case 'delay':
      return p.delay;
    case 'success':
    case 'relayed':
      return p.success;
  }
}

/**
 * Decode RFC 3461 xtext ("+2B" → "+"). Malformed escapes are left as they are.
 * (Values from smtp-server are decoded already; this is for raw parameters.)
 */
export function decodeXtext(s: string): string {
  return s.replace(/\+([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * The RFC 3463 status of an SMTP reply: its enhanced code when it has one whose
 * class agrees with the basic code, else class.0.0 from the basic code; a reply
 * without a code at all is `fallbackClass`.0.0.
 */
export function statusFromReply(reply: string | null | undefined, fallbackClass: 4 | 5 = 4): string {
  const m = /^\s*([245])(\d\d)[ -]+(?:([245])\.(\d{1,3})\.(\d{1,3})\b)?/.exec(reply ?? '');
  if (!m) return `${fallbackClass}.0.0`;
  const cls = m[1]!;
  if (m[3] && m[3] === cls) return `${cls}.${Number(m[4])}.${Number(m[5])}`;
  return `${cls}.0.0`;
}

/** The basic reply code of an SMTP reply (e.g. 550), or null when there is none. */
export function replyCode(reply: string | null | undefined): number | null {
  const m = /^\s*([2-5]\d\d)(?:[ -]|$)/.exec(reply ?? '');
  return m ? Number(m[1]) : null;
}

/** RFC 5322 date-time in UTC ("Tue, 02 Jan 2024 10:00:00 +0000"). */
export function rfc5322Date(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${days[d.getUTCDay()]}, ${p(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`
  );
}

/** The header block of a message (up to, not including, the empty line). */
export function headerOf(message: Buffer): Buffer {
  const crlf = message.indexOf('\r\n\r\n');
  const lf = message.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return message.subarray(0, crlf + 2);
  if (lf >= 0) return message.subarray(0, lf + 1);
  return message;
}

/** The Subject of the original, unfolded (for the report's own Subject line). */
function originalSubject(header: Buffer): string | null {
  const text = header.toString('latin1').replace(/\r?\n[ \t]+/g, ' ');
  const m = /^subject:[ \t]*(.*)$/im.exec(text);
  return m ? m[1]!.trim() : null;
}

const isAscii = (s: string) => /^[\x20-\x7e]*$/.test(s);

/** One line of printable US-ASCII: line breaks folded to spaces, others replaced. */
function asciiLine(s: string): string {
  return s
    .replace(/\r?\n/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
}

/** RFC 3464 address-type;address, with RFC 6533 utf-8 type for non-ASCII. */
function typedAddress(addr: string): string {
  return isAscii(addr) ? `rfc822; ${addr}` : `utf-8; ${addr.replace(/[\r\n]/g, '')}`;
}

function originalRecipientField(orcpt: string): string | null {
  const semi = orcpt.indexOf(';');
  if (semi <= 0) return null;
  const type = orcpt.slice(0, semi).trim();
  const value = orcpt.slice(semi + 1).trim();
  if (!/^[A-Za-z0-9-]+$/.test(type) || !value) return null;
  return `${type}; ${asciiLine(value)}`;
}

const ACTION: Record<DsnKind, string> = { failure: 'failed', delay: 'delayed', success: 'delivered', relayed: 'relayed' };

const SUBJECT: Record<DsnKind, string> = {
  failure: 'Undelivered Mail Returned to Sender',
  delay: 'Delayed Mail (still being retried)',
  success: 'Successful Mail Delivery Report',
  relayed: 'Successful Mail Delivery Report',
};

function defaultStatus(kind: DsnKind, r: DsnRecipient): string {
  if (r.status) return r.status;
  switch (kind) {
    case 'failure':
      return statusFromReply(r.reply, 5);
    case 'delay':
      return statusFromReply(r.reply, 4).replace(/^5/, '4');
    default:
      return '2.0.0';
  }
}

/** The human-readable first part, in the manner of Postfix's bounce text. */
function explanation(input: DsnInput): string {
  const lines: string[] = [];
  lines.push(`This is the mail system at host ${input.reportingMta}.`, '');
  switch (input.kind) {
    case 'failure':
      lines.push(
        "I'm sorry to have to inform you that your message could not",
        'be delivered to one or more recipients. It is attached below.',
        '',
        'For further assistance, please send mail to postmaster.',
        '',
        'If you do so, please include this problem report. You can',
        'delete your own text from the attached returned message.',
      );
      break;
    case 'delay':
      lines.push(
        '####################################################################',
        '# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #',
        '####################################################################',
        '',
        'Your message could not be delivered for some time. It will be',
        'retried until it is too old; you will be told if it fails.',
      );
      break;
    case 'success':
    case 'relayed':
      lines.push(
        'Your message was successfully delivered to the destination(s)',
        'listed below. If the message was delivered to a mailbox you will',
        'receive no further notifications. Otherwise you may still receive',
        'notifications of mail delivery errors from other systems.',
      );
      break;
  }
  lines.push('', `                   The mail system`, '');
  for (const r of input.recipients) {
    const where = r.remoteMta ? `host ${r.remoteMta} said: ` : '';
    const why = r.reply ? `${where}${r.reply.replace(/\r?\n/g, ' ')}` : ACTION[input.kind];
    lines.push(`<${r.finalRecipient}>: ${why}`, '');
  }
  return lines.join(CRLF);
}

/** Build the complete report message (header and body), CRLF line ends. */
export function buildDsn(input: DsnInput): Buffer {
  if (input.recipients.length === 0) throw new Error('buildDsn: no recipients');
  const utf8 = !isAscii(input.to) || input.recipients.some((r) => !isAscii(r.finalRecipient));
  const from = input.from ?? `Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`;
  const originalHeader = headerOf(input.original);
  const subj = originalSubject(originalHeader);
  const subject = SUBJECT[input.kind] + (subj && isAscii(subj) ? `: ${subj}`.slice(0, 200) : '');

  const head = [
    `From: ${from}`,
    `To: <${input.to.replace(/[\r\n<>]/g, '')}>`,
    `Subject: ${subject}`,
    `Date: ${rfc5322Date(input.date)}`,
    `Message-ID: <${input.messageId}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;${CRLF}\tboundary="${input.boundary}"`,
    'Content-Transfer-Encoding: 8bit',
  ];

  // Per-message fields (RFC 3464 2.2).
  const perMessage = [`Reporting-MTA: dns; ${input.reportingMta}`];
  if (input.queueId) perMessage.push(`X-Mailroom-Queue-ID: ${asciiLine(input.queueId)}`);
  if (input.envelopeId) perMessage.push(`Original-Envelope-Id: ${asciiLine(input.envelopeId)}`);
  if (input.arrivalDate) perMessage.push(`Arrival-Date: ${rfc5322Date(input.arrivalDate)}`);

  // Per-recipient fields (RFC 3464 2.3), one block each.
  const blocks = input.recipients.map((r) => {
    const f = [`Final-Recipient: ${typedAddress(r.finalRecipient)}`];
    const orig = r.originalRecipient ? originalRecipientField(r.originalRecipient) : null;
    if (orig) f.push(`Original-Recipient: ${orig}`);
    f.push(`Action: ${ACTION[input.kind]}`);
    f.push(`Status: ${defaultStatus(input.kind, r)}`);
    if (r.remoteMta) f.push(`Remote-MTA: dns; ${asciiLine(r.remoteMta)}`);
    if (r.reply) f.push(`Diagnostic-Code: ${r.replyFromRemote === false ? 'X-mailroom' : 'smtp'}; ${asciiLine(r.reply)}`);
    if (r.lastAttemptDate) f.push(`Last-Attempt-Date: ${rfc5322Date(r.lastAttemptDate)}`);
    if (r.willRetryUntil) f.push(`Will-Retry-Until: ${rfc5322Date(r.willRetryUntil)}`);
    return f.join(CRLF);
  });

  const full = input.ret === 'FULL';
  const returned = full ? input.original : originalHeader;
  const returnedType = full ? (utf8 ? 'message/global' : 'message/rfc822') : utf8 ? 'message/global-headers' : 'text/rfc822-headers';
  const b = input.boundary;
  const parts: Buffer[] = [
    Buffer.from(head.join(CRLF) + CRLF + CRLF, 'utf8'),
    Buffer.from('This is a MIME-encapsulated message.' + CRLF + CRLF, 'utf8'),
    Buffer.from(
      `--${b}${CRLF}Content-Description: Notification${CRLF}Content-Type: text/plain; charset=utf-8${CRLF}${CRLF}` +
        explanation(input) +
        CRLF,
      'utf8',
    ),
    Buffer.from(
      `--${b}${CRLF}Content-Description: Delivery report${CRLF}` +
        `Content-Type: ${utf8 ? 'message/global-delivery-status' : 'message/delivery-status'}${CRLF}${CRLF}` +
        perMessage.join(CRLF) +
        CRLF +
        CRLF +
        blocks.join(CRLF + CRLF) +
        CRLF +
        CRLF,
      'utf8',
    ),
    Buffer.from(
      `--${b}${CRLF}Content-Description: ${full ? 'Undelivered Message' : 'Undelivered Message Headers'}${CRLF}` +
        `Content-Type: ${returnedType}${CRLF}${CRLF}`,
      'utf8',
    ),
    returned,
    Buffer.from((returned.subarray(-2).toString() === CRLF ? '' : CRLF) + `${CRLF}--${b}--${CRLF}`, 'utf8'),
  ];
  return Buffer.concat(parts);
}

/**
 * Whether a message looks like an automatic report or reply that must not be
 * answered with another one (RFC 3834 Auto-Submitted, multipart/report). The
 * null sender alone already rules a bounce out; this catches the rest.
 */
export function isAutomatedReport(header: Buffer): boolean {
  const text = header.toString('latin1').replace(/\r?\n[ \t]+/g, ' ');
  const auto = /^auto-submitted:[ \t]*([^\s;]+)/im.exec(text);
  if (auto && auto[1]!.toLowerCase() !== 'no') return true;
  return /^content-type:[ \t]*multipart\/report\b[^\r\n]*report-type="?delivery-status/im.test(text);
}
