/**
 * Sending delivery status notifications for the queue: failure (bounce),
 * delay warning, and "relayed" success reports when NOTIFY=SUCCESS asked for
 * one and the remote could not take the request on.
 *
 * Rules:
 * - Never to the null sender, never for a message that is itself a bounce
 *   (source 'bounce'): no bounce loops. A report goes out from the null sender,
 *   so a report that cannot be delivered is dropped, not answered.
 * - Only to recipients whose NOTIFY asks for this kind (RFC 3461; none given
 *   means failures and delays).
 * - The report is written like any message (ingest: fsynced blob, indexed) and
 *   handed to route() with source 'bounce': a local sender finds it in INBOX,
 *   a remote one gets it through the queue.
 * - The original comes back as its header, or whole when RET=FULL and it is not
 *   huge (10 MB), as Postfix does with bounce_size_limit.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { buildDsn, headerOf, wantsReport, type DsnKind, type DsnRecipient } from '../../core/dsn.js';
import type { QueueEntry, QueueRecipient, Store } from '../../store/types.js';
import { ingest } from '../../store/ingest.js';
import type { Route } from '../types.js';

const FULL_RETURN_LIMIT = 10 * 1024 * 1024;
const HEADER_READ_LIMIT = 256 * 1024;

export interface ReportRecipient {
  recipient: QueueRecipient;
  reply: string | null;
  host: string | null;
  fromRemote: boolean;
  willRetryUntil?: Date;
}

export interface NotifyDeps {
  store: Store;
  route: Route;
  hostname: string;
  logger: Logger;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

/** The stored message's header block (reads only the start of the blob). */
export async function readHeader(store: Store, entry: QueueEntry): Promise<Buffer> {
  const end = Math.min(entry.blob.size, HEADER_READ_LIMIT);
  const head = await readAll(await store.blobs.open(entry.blob.id, { start: 0, end }));
  return headerOf(head);
}

/**
 * Send one report of `kind` about some recipients of `entry`. Returns the
 * number of recipients it covered (0: nothing was due). Throws when the report
 * could not be written or routed (the caller keeps the recipients to retry).
 */
export async function sendReport(deps: NotifyDeps, entry: QueueEntry, kind: DsnKind, about: ReportRecipient[], at: Date): Promise<number> {
  if (entry.sender === '' || entry.source === 'bounce') return 0;
  const wanted = about.filter((r) => wantsReport(r.recipient.dsnNotify, kind));
  if (wanted.length === 0) return 0;

  const full = entry.dsnRet === 'FULL' && entry.blob.size <= FULL_RETURN_LIMIT;
  const original = full ? await readMessage(deps.store, entry) : await readHeader(deps.store, entry);
  const recipients: DsnRecipient[] = wanted.map((r) => ({
    finalRecipient: r.recipient.address,
    originalRecipient: r.recipient.dsnOrcpt,
    reply: r.reply,
    remoteMta: r.fromRemote ? hostName(r.host) : null,
    replyFromRemote: r.fromRemote,
    lastAttemptDate: at,
    willRetryUntil: r.willRetryUntil ?? null,
  }));
  const id = randomBytes(9).toString('base64url');
  const report = buildDsn({
    kind,
    reportingMta: deps.hostname,
    to: entry.sender,
    date: at,
    messageId: `${id}.dsn@${deps.hostname}`,
    boundary: `=_mailroom_${id}`,
    queueId: entry.id,
    envelopeId: entry.dsnEnvid,
    arrivalDate: entry.createdAt,
    recipients,
    original,
    ret: full ? 'FULL' : 'HDRS',
  });
  const { blob, index } = await ingest(deps.store.blobs, report);
  const result = await deps.route({ mailFrom: '', rcptTo: [{ address: entry.sender }], source: 'bounce', id: entry.id }, blob, index);
  const outcome = result.recipients[0];
  const log = { queueId: entry.id, kind, to: entry.sender, recipients: wanted.map((r) => r.recipient.address), outcome: outcome?.status };
  if (outcome?.status === 'failed') deps.logger.warn({ ...log, reply: `${outcome.code} ${outcome.enhanced} ${outcome.message}` }, 'delivery status notification could not be delivered; dropped');
  else deps.logger.info(log, 'delivery status notification sent');
  return wanted.length;
}

async function readMessage(store: Store, entry: QueueEntry): Promise<Buffer> {
  return readAll(await store.blobs.open(entry.blob.id));
}

/** "mx.example.org[192.0.2.1]:25" → "mx.example.org" for Remote-MTA. */
function hostName(host: string | null): string | null {
  if (!host) return null;
  return host.replace(/\[[^\]]*\]/, '').replace(/:\d+$/, '') || host;
}
