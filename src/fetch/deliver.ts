/**
 * Delivering one fetched message: write it (ingest), work out its recipients,
 * route() it like any other mail, and remember it as seen.
 *
 * Rules it keeps (the order is what makes "no loss, no duplicate" hold):
 * - The message is remembered as seen only after route() has resolved with
 *   every recipient delivered or queued (durable). Remote deletion comes later
 *   still (poller.ts), and only for messages remembered as seen.
 * - The one gap, a crash after route() committed but before the seen mark was
 *   written, is closed by a token: our Received line carries
 *   "id <token>", derived from the account, folder and remote id. A poll that
 *   follows a crashed one (poller.ts leaves an in-flight mark per folder)
 *   looks the token up in the recipients' mailboxes before routing again, and
 *   only marks the message seen if it is already there.
 * - A recipient route() refuses for good (disabled, vanished) is handed to the
 *   fallback user instead, so the message still lands somewhere local.
 * - A recipient that fails for now (mailbox full, store busy) leaves the message
 *   unseen on the remote, to be tried again at the next poll. When some other
 *   recipients did get it, each of them is remembered ("id<TAB>address"), so
 *   the retry goes only to those still missing it.
 * - The message's own headers are left as they are (Authentication-Results
 *   included); one Received line for the fetch hop is put on top.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { MessageIndex } from '../core/mime/types.js';
import { ingest } from '../store/ingest.js';
import type { RecipientDisposition, Route } from '../delivery/types.js';
import type { BlobRef, ExternalAccount, Id, Store, User } from '../store/types.js';
import { FetchError } from './errors.js';
import { MAX_HEADER_BYTES, headerSection, parseHeaderFields, returnPath } from './multidrop.js';
import { recipientsFor, type AddressResolver } from './recipients.js';
import type { RemoteMessage } from './source.js';

/** Separates a remote id from an address in a partial-delivery mark. */
export const PARTIAL_SEP = '\t';

export interface DeliverContext {
  store: Store;
  route: Route;
  config: Config;
  logger: Logger;
  account: ExternalAccount;
  /** The single-drop user, or the multi-drop fallback user. */
  target: User;
  folder: string;
  resolver: AddressResolver;
  now: () => Date;
  /** Set after a crashed poll: look for each message in the mailboxes before routing it. */
  recovering?: boolean;
  /** Per poll: the mailboxes of a user (for the recovery lookup). */
  mailboxCache?: Map<Id, Promise<Id[]>>;
}

export type DeliverOutcome =
  | { kind: 'delivered'; recipients: string[]; recovered: boolean }
  /** Left on the remote for the next poll; `fatal` when nothing after it can succeed either (store down). */
  | { kind: 'deferred'; error: FetchError; fatal: boolean };

export interface StoredMessage {
  blob: BlobRef;
  index: MessageIndex;
  /** The message's own header section as fetched (without our Received line), bounded. */
  header: Buffer;
}

/** The token in our Received line that identifies a remote message (account, folder, remote id). */
export function fetchToken(accountId: Id, folder: string, remoteId: string): string {
  return 'mrf' + createHash('sha256').update(`${accountId}\0${folder}\0${remoteId}`).digest('hex').slice(0, 24);
}

/** Stage 1, may run concurrently: write the blob (durably) and keep the header for stage 2. */
export async function storeFetched(ctx: DeliverContext, message: RemoteMessage, body: Buffer | Readable): Promise<StoredMessage> {
  const prefix = receivedLine(ctx, fetchToken(ctx.account.id, ctx.folder, message.id));
  const { blob, index } = await ingest(ctx.store.blobs, body, { prefix });
  const header = Buffer.isBuffer(body) ? body.subarray(0, MAX_HEADER_BYTES) : await readBlob(ctx.store, blob, prefix.length, MAX_HEADER_BYTES);
  return { blob, index, header };
}

/**
 * Stage 2, run in remote order: recipients, route(), seen marks.
 * `alreadyDelivered` holds addresses a previous, partly failed poll delivered to.
 */
export async function routeFetched(
  ctx: DeliverContext,
  message: RemoteMessage,
  stored: StoredMessage,
  alreadyDelivered: ReadonlySet<string>,
): Promise<DeliverOutcome> {
  const { store, account, folder } = ctx;
  const fields = parseHeaderFields(headerSection(stored.header));
  const { rcptTo, choice } = await recipientsFor(account, ctx.target, stored.header, ctx.resolver);
  const done = new Set(alreadyDelivered);
  let recovered = false;
  if (ctx.recovering) {
    for (const a of await alreadyInMailboxes(ctx, message, rcptTo.filter((x) => !done.has(x)))) {
      done.add(a);
      recovered = true;
    }
  }
  const todo = rcptTo.filter((a) => !done.has(a));
  const envelope = {
    mailFrom: returnPath(fields),
    source: 'fetch' as const,
    id: `fetch-${account.id}-${message.id}`,
  };
  const fallback = ctx.target.address.toLowerCase();

  let dispositions: RecipientDisposition[] = [];
  if (todo.length > 0) {
    try {
      dispositions = (await ctx.route({ ...envelope, rcptTo: todo.map((address) => ({ address })) }, stored.blob, stored.index)).recipients;
    } catch (err) {
      return { kind: 'deferred', fatal: true, error: new FetchError('delivery', `local delivery failed: ${(err as Error).message}`, true, { cause: err }) };
    }
    // Refused for good: the fallback user gets it instead (once).
    const refused = dispositions.filter(
      (d): d is Extract<RecipientDisposition, { status: 'failed' }> => d.status === 'failed' && !d.temporary && d.address.toLowerCase() !== fallback,
    );
    if (refused.length > 0) {
      const fallbackHasIt = done.has(fallback) || dispositions.some((d) => d.address.toLowerCase() === fallback && d.status !== 'failed');
      dispositions = dispositions.filter((d) => !(refused as RecipientDisposition[]).includes(d));
      if (!fallbackHasIt) {
        try {
          const again = await ctx.route({ ...envelope, rcptTo: [{ address: fallback }] }, stored.blob, stored.index);
          dispositions = dispositions.concat(again.recipients);
        } catch (err) {
          return { kind: 'deferred', fatal: true, error: new FetchError('delivery', `local delivery failed: ${(err as Error).message}`, true, { cause: err }) };
        }
      }
      ctx.logger.warn({ account: account.name, id: message.id, refused: refused.map((d) => `${d.address}: ${d.code} ${d.message}`), fallback }, 'recipient refused; the fallback user gets the message');
    }
  }

  const ok = dispositions.filter((d) => d.status !== 'failed').map((d) => d.address.toLowerCase());
  const failed = dispositions.filter((d): d is Extract<RecipientDisposition, { status: 'failed' }> => d.status === 'failed');
  const at = ctx.now();
  if (failed.length === 0) {
    await store.markRemoteSeen(account.id, folder, message.id, at);
    if (alreadyDelivered.size > 0) {
      await store.forgetRemoteSeen(account.id, folder, [...alreadyDelivered].map((a) => message.id + PARTIAL_SEP + a));
    }
    ctx.logger.info(
      {
        account: account.name,
        folder,
        id: message.id,
        blob: stored.blob.id,
        size: stored.blob.size,
        to: ok,
        ...(done.size > 0 ? { before: [...done] } : {}),
        ...(choice ? { multidrop: choice.source ?? 'fallback' } : {}),
        ...(recovered ? { recovered: true } : {}),
      },
      todo.length === 0 && recovered ? 'fetched message was already delivered before a crash' : 'fetched',
    );
    return { kind: 'delivered', recipients: ok, recovered: recovered && todo.length === 0 };
  }
  for (const a of ok) await store.markRemoteSeen(account.id, folder, message.id + PARTIAL_SEP + a, at);
  const first = failed[0]!;
  const error = new FetchError(
    first.temporary ? 'delivery' : 'config',
    `${first.address}: ${first.code} ${first.enhanced} ${first.message}${failed.length > 1 ? ` (and ${failed.length - 1} more)` : ''}`,
    true,
  );
  ctx.logger.warn({ account: account.name, folder, id: message.id, failed: failed.map((f) => ({ to: f.address, code: f.code })) }, 'fetched message left on the server');
  return { kind: 'deferred', fatal: false, error };
}

/**
 * Recipients whose users already hold this message (our token in a Received
 * line): route() commits all local mailboxes of a message in one transaction,
 * so a message found in one recipient's mailbox reached every user of it.
 */
async function alreadyInMailboxes(ctx: DeliverContext, message: RemoteMessage, addresses: string[]): Promise<string[]> {
  const token = fetchToken(ctx.account.id, ctx.folder, message.id);
  const cache = (ctx.mailboxCache ??= new Map());
  const found: string[] = [];
  for (const address of addresses) {
    for (const user of await ctx.resolver.users(address)) {
      let boxes = cache.get(user.id);
      if (!boxes) {
        // INBOX first: route() delivers there, so the lookup usually ends at once.
        boxes = ctx.store.listMailboxes(user.id).then((list) => list.sort((a, b) => Number(b.name === 'INBOX') - Number(a.name === 'INBOX')).map((m) => m.id));
        cache.set(user.id, boxes);
      }
      let has = false;
      for (const mailboxId of await boxes) {
        if ((await ctx.store.search(mailboxId, { op: 'header', field: 'received', value: token })).length > 0) {
          has = true;
          break;
        }
      }
      if (has) {
        found.push(address);
        break;
      }
    }
  }
  return found;
}

/** Bytes [start, start+max) of a blob (the header of a message that was streamed in). */
async function readBlob(store: Store, blob: BlobRef, start: number, max: number): Promise<Buffer> {
  const end = Math.min(blob.size, start + max);
  if (end <= start) return Buffer.alloc(0);
  const stream = await store.blobs.open(blob.id, { start, end });
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** "Received: from <remote> by <us> with POP3|IMAP id <token> [for <user>]; <date>" for the fetch hop. */
export function receivedLine(ctx: Pick<DeliverContext, 'account' | 'target' | 'config' | 'now'>, token: string): Buffer {
  const { account } = ctx;
  const proto = account.protocol === 'pop3' ? 'POP3' : 'IMAP';
  const tls = account.tls === 'none' ? '' : 'S';
  const forClause = account.mode === 'single' ? ` for <${ctx.target.address}>` : '';
  const date = ctx.now().toUTCString().replace(/GMT$/, '+0000');
  return Buffer.from(
    `Received: from ${sanitize(account.host)} (fetched by mailroom from account ${sanitize(account.name)})\r\n` +
      `\tby ${sanitize(ctx.config.hostname)} with ${proto}${tls} id ${token}${forClause};\r\n\t${date}\r\n`,
    'utf8',
  );
}

function sanitize(s: string): string {
  return s.replace(/[\r\n()\\;]/g, '_');
}
