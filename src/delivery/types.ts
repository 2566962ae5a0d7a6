/**
 * The contract of route(): the one entry for every way mail comes in (SMTP,
 * submission, fetch, webmail, forwarding, bounces). The caller has already
 * written the message to the blob store (fsynced) and passes its reference;
 * route() decides per recipient: local mailbox(es) or the outbound queue.
 */
import type { MessageIndex } from '../core/mime/types.js';
import type { RcptCheck, Resolution } from './recipients.js';
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
/** Recipient lookups, the same route() makes; for SMTP's RCPT-time answers and fetch's multi-drop. */
export interface Recipients {
  /** What an address means: local users (after +tags, aliases, catch-alls, forwards), remote, unknown. */
  resolve(address: string, opts?: { isLocalDomain?: (domain: string) => Promise<boolean> }): Promise<Resolution>;
  /** The RCPT-time answer for an address (550 5.1.1 unknown, 452 4.2.2 full, ...); size = SIZE= when declared. */
  checkRcpt(address: string, opts?: { size?: number; isLocalDomain?: (domain: string) => Promise<boolean> }): Promise<RcptCheck>;
}

export type { RcptCheck, RcptReply, Resolution } from './recipients.js';

export type Route = (envelope: MailEnvelope, blob: BlobRef, index?: MessageIndex) => Promise<RouteResult>;
