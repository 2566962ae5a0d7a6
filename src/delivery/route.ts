/**
 * route(): the one entry for every way mail comes in (SMTP, submission, fetch,
 * webmail, forwards, bounces). The caller has written the message to the blob
 * store (durably) and passes its reference; route decides per recipient.
 *
 * Rules it keeps (maddy's delivery_target is the model: begin, add
 * recipients, commit):
 * - Recipients resolve through delivery/recipients.ts: sub-addresses, aliases
 *   (recursive, loop-safe), catch-alls, forwards (keepCopy keeps one in INBOX).
 * - One blob for the whole message: every local mailbox and the queue entry
 *   reference the same blob; all local targets are written in ONE
 *   store.deliver() transaction, each user at most once; all external
 *   addresses go into ONE queue entry.
 * - The queue entry is written before the mailboxes. If the mailbox write then
 *   fails, the entry is withdrawn and the error rethrown, so a caller that
 *   answers "try again" causes no duplicate elsewhere.
 * - When route() resolves, everything it reports as delivered or queued is
 *   durable (store transactions are committed). A failure is reported per
 *   recipient with the SMTP reply it deserves; route() throws only when
 *   nothing could be decided (store unavailable), which callers treat as
 *   temporary.
 * - Quota: a full mailbox is a temporary failure (452 4.2.2), as RFC 5321
 *   4.5.3.1.10 asks.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { MessageIndex } from '../core/mime/types.js';
import { indexMessage } from '../core/mime/index.js';
import type { BlobRef, DeliveryOutcome, DeliveryTarget, Store, User } from '../store/types.js';
import { checkRecipientAtRcpt, defaultIsLocalDomain, resolveRecipient, type RcptCheck, type Resolution } from './recipients.js';
import type { MailEnvelope, Recipients, RecipientDisposition, Route, RouteResult } from './types.js';

export { resolveRecipient, type Resolution } from './recipients.js';

export interface RouteOptions {
  store: Store;
  config: Config;
  logger: Logger;
  /** Is this domain ours? Default: store.getDomain (SMTP passes its cached view). */
  isLocalDomain?: (domain: string) => Promise<boolean>;
}

/** The recipient lookups route() makes, for SMTP at RCPT time and fetch's multi-drop (ServiceContext.recipients). */
export function createRecipients(store: Store, config: Config): Recipients {
  const separator = config.smtp.subaddressSeparator;
  return {
    resolve: (address, opts = {}) => resolveRecipient(store, address, { separator, ...opts }),
    checkRcpt: (address, opts = {}): Promise<RcptCheck> => checkRecipientAtRcpt(store, address, { separator, ...opts }),
  };
}

type Failure = Extract<RecipientDisposition, { status: 'failed' }>;

function failed(address: string, temporary: boolean, code: number, enhanced: string, message: string): Failure {
  return { status: 'failed', address, temporary, code, enhanced, message };
}

function outcomeFailure(address: string, o: Extract<DeliveryOutcome, { ok: false }>): Failure {
  switch (o.code) {
    case 'overQuota':
      return failed(address, true, 452, '4.2.2', 'Mailbox full');
    case 'disabled':
      return failed(address, false, 550, '5.2.1', 'Mailbox disabled');
    case 'noSuchUser':
      return failed(address, false, 550, '5.1.1', 'No such user here');
    case 'noSuchMailbox':
      return failed(address, true, 450, '4.2.0', 'Mailbox unavailable');
  }
}

export function createRoute(opts: RouteOptions): Route {
  const { store, config, logger } = opts;
  const isLocalDomain = opts.isLocalDomain ?? defaultIsLocalDomain(store);
  const separator = config.smtp.subaddressSeparator;

  return async function route(envelope: MailEnvelope, blob: BlobRef, index?: MessageIndex): Promise<RouteResult> {
    const resolutions: Resolution[] = [];
    for (const r of envelope.rcptTo) {
      resolutions.push(await resolveRecipient(store, r.address, { separator, isLocalDomain }));
    }

    // Gather each local user once and each external address once, remembering who asked for them.
    const users = new Map<number, User>();
    const external = new Map<string, { address: string; dsnNotify: string | null; dsnOrcpt: string | null }>();
    const addExternal = (address: string, rcpt: MailEnvelope['rcptTo'][number]) => {
      const key = address.toLowerCase();
      if (!external.has(key)) external.set(key, { address, dsnNotify: rcpt.dsnNotify ?? null, dsnOrcpt: rcpt.dsnOrcpt ?? null });
    };
    resolutions.forEach((res, i) => {
      const rcpt = envelope.rcptTo[i]!;
      if (res.kind === 'remote') addExternal(rcpt.address, rcpt);
      if (res.kind === 'local') {
        for (const u of res.users) users.set(u.id, u);
        for (const x of res.external) addExternal(x, { ...rcpt, dsnOrcpt: rcpt.dsnOrcpt ?? `rfc822;${rcpt.address}` });
      }
    });

    let queueId: string | null = null;
    if (external.size > 0) {
      const entry = await store.enqueue({
        sender: envelope.mailFrom,
        blob,
        recipients: [...external.values()],
        source: envelope.source,
        dsnRet: envelope.dsnRet ?? null,
        dsnEnvid: envelope.dsnEnvid ?? null,
      });
      queueId = entry.id;
    }

    const outcomes = new Map<number, DeliveryOutcome>();
    if (users.size > 0) {
      const targets: DeliveryTarget[] = [...users.keys()].map((userId) => ({ userId }));
      try {
        const idx = index ?? indexMessage(await store.blobs.read(blob.id));
        const results = await store.deliver(blob, idx, targets);
        targets.forEach((t, i) => outcomes.set(t.userId, results[i]!));
      } catch (err) {
        if (queueId) await store.deleteQueueEntry(queueId).catch(() => undefined);
        throw err;
      }
    }

    const recipients: RecipientDisposition[] = resolutions.map((res, i): RecipientDisposition => {
      const address = envelope.rcptTo[i]!.address;
      switch (res.kind) {
        case 'invalid':
          return failed(address, false, 553, '5.1.3', `Bad recipient address syntax: ${res.reason}`);
        case 'unknown':
          return failed(address, false, 550, '5.1.1', 'No such user here');
        case 'loop':
          return failed(address, false, 554, '5.4.6', 'Routing loop detected');
        case 'remote':
          return { status: 'queued', address, queueId: queueId! };
        case 'local': {
          const ok = res.users.filter((u) => outcomes.get(u.id)?.ok).map((u) => u.id);
          if (ok.length > 0) {
            // An alias member that failed while others got it: the alias counts as delivered; say so in the log.
            const lost = res.users.filter((u) => !outcomes.get(u.id)?.ok).map((u) => ({ userId: u.id, outcome: outcomes.get(u.id) }));
            if (lost.length) logger.warn({ id: envelope.id, address, lost }, 'some mailboxes behind this address did not take the message');
            return { status: 'delivered', address, userIds: ok };
          }
          if (res.external.length > 0) return { status: 'queued', address, queueId: queueId! };
          // Every mailbox failed: report the most hopeful failure (a temporary one, if any).
          const fails = res.users
            .map((u) => outcomes.get(u.id))
            .filter((o): o is Extract<DeliveryOutcome, { ok: false }> => !!o && !o.ok)
            .map((o) => outcomeFailure(address, o));
          return fails.find((f) => f.temporary) ?? fails[0] ?? failed(address, true, 451, '4.3.0', 'Local delivery failed');
        }
      }
    });

    logger.info(
      {
        id: envelope.id,
        source: envelope.source,
        blob: blob.id,
        size: blob.size,
        from: envelope.mailFrom,
        queueId,
        recipients: recipients.map((r) => ({ to: r.address, status: r.status, ...(r.status === 'failed' ? { code: r.code } : {}) })),
      },
      'routed',
    );
    return { recipients };
  };
}
