/**
 * Recipients that fail after DATA while others of the same message were
 * delivered. SMTP has one reply for DATA (RFC 5321 3.3), so refusing the
 * message would make the client resend it to those who already have it; the
 * usual way out, and ours, is to accept and send the sender a bounce (RFC
 * 3464) for the ones that failed. Most such failures are caught at RCPT time
 * already (unknown user, full mailbox); this covers what changes in between.
 *
 * Nothing is bounced to the null sender or for an automated report (RFC 3834),
 * and recipients who asked for NOTIFY=NEVER (or without FAILURE) are skipped.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { buildDsn, isAutomatedReport, wantsReport } from '../core/dsn.js';
import { ingest } from '../store/ingest.js';
import type { MailEnvelope, RecipientDisposition, Route } from '../delivery/types.js';
import type { BlobStore } from '../store/types.js';

export async function bounceLateFailures(opts: {
  blobs: BlobStore;
  route: Route;
  hostname: string;
  envelope: MailEnvelope;
  failures: Array<Extract<RecipientDisposition, { status: 'failed' }>>;
  /** Header block of the original message. */
  header: Buffer;
  queueId: string;
  logger: Logger;
}): Promise<void> {
  const { envelope, failures } = opts;
  if (!envelope.mailFrom || isAutomatedReport(opts.header)) return;
  const wanted = failures.filter((f) => {
    const r = envelope.rcptTo.find((x) => x.address === f.address);
    return wantsReport(r?.dsnNotify ?? null, 'failure');
  });
  if (wanted.length === 0) return;
  const dsn = buildDsn({
    kind: 'failure',
    reportingMta: opts.hostname,
    to: envelope.mailFrom,
    date: new Date(),
    messageId: `${Date.now().toString(36)}.${randomBytes(8).toString('hex')}@${opts.hostname}`,
    boundary: `${randomBytes(12).toString('hex')}/${opts.hostname}`,
    queueId: opts.queueId,
    envelopeId: envelope.dsnEnvid ?? null,
    arrivalDate: new Date(),
    recipients: wanted.map((f) => ({
      finalRecipient: f.address,
      originalRecipient: envelope.rcptTo.find((x) => x.address === f.address)?.dsnOrcpt ?? null,
      status: f.enhanced,
      reply: `${f.code} ${f.enhanced} ${f.message}`,
      replyFromRemote: false,
    })),
    original: opts.header,
    ret: 'HDRS',
  });
  const { blob, index } = await ingest(opts.blobs, dsn);
  const result = await opts.route({ mailFrom: '', rcptTo: [{ address: envelope.mailFrom }], source: 'bounce', id: `${opts.queueId}.bounce` }, blob, index);
  opts.logger.info({ queueId: opts.queueId, to: envelope.mailFrom, failed: wanted.map((f) => f.address), bounce: result.recipients[0]?.status }, 'late failures bounced');
}
