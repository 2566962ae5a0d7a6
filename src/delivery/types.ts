/**
 * The contract of route(): the one entry for every way mail comes in (SMTP,
 * submission, fetch, webmail, forwarding, bounces). The caller has already
 * written the message to the blob store (fsynced) and passes its reference;
 * route() decides per recipient: local mailbox(es) or the outbound queue.
 */
import type { MessageIndex } from '../core/mime/types.js';
import type { BlobRef } from '../store/types.js';

export type MailSource = 'mx' | 'submission' | 'fetch' | 'web' | 'forward' | 'bounce' | 'local';

export interface MailEnvelope {
  /** Reverse path; '' is the null sender (bounces). */
  mailFrom: string;
  /** Forward paths as given by the client (route() resolves +tags, aliases, catch-alls). */
  rcptTo: Array<{ address: string; dsnNotify?: string | null; dsnOrcpt?: string | null }>;
  source: MailSource;
  /** Authenticated user id (submission, webmail). */
  authUserId?: number;
  remoteIp?: string;
  heloName?: string;
  /** RFC 3461 RET / ENVID when the client gave them. */
  dsnRet?: 'FULL' | 'HDRS' | null;
  dsnEnvid?: string | null;
  /** Log correlation id (SMTP session/queue id). */
  id?: string;
}

export type RecipientDisposition =
  /** Stored in a local mailbox. */
  | { status: 'delivered'; address: string; userIds: number[] }
  /** Handed to the outbound queue (durably). */
  | { status: 'queued'; address: string; queueId: string }
  /** Failed; code/enhanced as an SMTP reply would carry them. */
  | { status: 'failed'; address: string; temporary: boolean; code: number; enhanced: string; message: string };

export interface RouteResult {
  recipients: RecipientDisposition[];
}

/**
 * `index` is the delivery-time index when the caller has it (ingest() returns
 * it); without it, route() reads the blob and indexes it itself.
 */
export type Route = (envelope: MailEnvelope, blob: BlobRef, index?: MessageIndex) => Promise<RouteResult>;
