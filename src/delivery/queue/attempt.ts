/**
 * One delivery attempt of one claimed queue entry: route its due recipients,
 * deliver to each destination at once, decide every recipient's new state,
 * send the reports that are due, and record the outcome.
 *
 * Rules:
 * - Every recipient of the claim ends the attempt in exactly one state:
 *   delivered, bounced (5xx, malformed, null MX, NXDOMAIN, or expired), or
 *   deferred with its next attempt time. Nothing is left unrecorded: an
 *   unexpected error defers every recipient not yet decided.
 * - Reports are written before the outcome is recorded: a crash between the
 *   two can repeat a bounce, never lose one. A bounce that cannot be written
 *   keeps its recipient deferred, to try again.
 * - One log line per recipient per attempt: queue id, recipient, host, reply,
 *   delay, new state (so "what happened to my mail to X" has an answer).
 */
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { QueueClaim, QueueEntry, QueueRecipient, RecipientResult, Store } from '../../store/types.js';
import type { DkimSigner } from '../dkim.js';
import { deliverToDestination, type DeliverContext, type OutboundMessage } from '../outbound/deliver.js';
import { planDelivery, validSender } from '../outbound/plan.js';
import { PoolClosedError } from '../outbound/pool.js';
import type { Route } from '../types.js';
import type { Clock } from './clock.js';
import { queueReplies, unexpectedReply } from './errors.js';
import type { AttemptRecorder } from './recorder.js';
import { readHeader, sendReport, type ReportRecipient } from './notify.js';
import { afterTemporaryFailure, expiresAt, formatDelay, warningDue, type RetryPolicy } from './schedule.js';

export interface AttemptDeps {
  store: Store;
  config: Config;
  route: Route;
  logger: Logger;
  clock: Clock;
  policy: RetryPolicy;
  owner: string;
  dkim: DkimSigner | null;
  deliver: DeliverContext;
  /** Commits outcomes (grouped; see recorder.ts). */
  recorder: AttemptRecorder;
}

interface Outcome {
  ok: boolean;
  temporary: boolean;
  reply: string;
  host: string | null;
  fromRemote: boolean;
  remoteDsn: boolean;
}

/**
 * The bytes that go on the wire: a DKIM-Signature (if the From: domain has a
 * key), then the stored message. The signature is computed once, on the first
 * open(), i.e. when a connection is ready for this message.
 */
function outboundMessage(entry: QueueEntry, deps: AttemptDeps, now: Date): OutboundMessage {
  const blobs = deps.store.blobs;
  let signature: Promise<Buffer> | null = null;
  const sign = async (): Promise<Buffer> => {
    if (!deps.dkim || !deps.config.queue.dkimSign) return Buffer.alloc(0);
    try {
      const header = await readHeader(deps.store, entry);
      const sig = await deps.dkim.sign(header, () => blobs.open(entry.blob.id), now);
      return sig ? Buffer.from(sig.header) : Buffer.alloc(0);
    } catch (err) {
      // Better unsigned than not at all: the receiver decides what DMARC says.
      deps.logger.warn({ queueId: entry.id, err }, 'DKIM signing failed; sending unsigned');
      return Buffer.alloc(0);
    }
  };
  const open = async (): Promise<{ body: Readable; size: number }> => {
    const sig = await (signature ??= sign());
    const body = await blobs.open(entry.blob.id);
    const size = entry.blob.size + sig.length;
    if (sig.length === 0) return { body, size };
    const out = new PassThrough();
    out.write(sig);
    body.on('error', (e) => out.destroy(e));
    body.pipe(out);
    return { body: out, size };
  };
  return { from: entry.sender, open, dsnRet: entry.dsnRet, dsnEnvid: entry.dsnEnvid };
}

/** Route and deliver; outcome per recipient id. Throws only on our own failures (store, DNS module bugs). */
async function deliverAll(entry: QueueEntry, recipients: QueueRecipient[], deps: AttemptDeps, now: Date): Promise<Map<number, Outcome>> {
  const outcomes = new Map<number, Outcome>();
  const fail = (r: QueueRecipient, temporary: boolean, reply: string) =>
    outcomes.set(r.id, { ok: false, temporary, reply, host: null, fromRemote: false, remoteDsn: false });

  if (!validSender(entry.sender)) {
    for (const r of recipients) fail(r, false, queueReplies.badSender(entry.sender));
    return outcomes;
  }
  const plan = await planDelivery(recipients, { config: deps.config, resolver: deps.deliver.resolver });
  for (const f of plan.failures) fail(f.recipient, f.temporary, f.reply);
  if (plan.groups.length === 0) return outcomes;

  const message = outboundMessage(entry, deps, now);
  await Promise.all(
    plan.groups.map(async (g) => {
      try {
        const results = await deliverToDestination(
          g.destination,
          message,
          g.recipients.map((r) => ({ address: r.address, dsnNotify: r.dsnNotify, dsnOrcpt: r.dsnOrcpt })),
          deps.deliver,
        );
        g.recipients.forEach((r, i) => {
          const res = results[i]!;
          outcomes.set(r.id, { ok: res.ok, temporary: res.temporary, reply: res.reply, host: res.host, fromRemote: res.fromRemote, remoteDsn: res.remoteDsn });
        });
      } catch (err) {
        // Shut down before a connection came free: not tried, so not recorded (still due).
        if (err instanceof PoolClosedError) return;
        for (const r of g.recipients) fail(r, true, unexpectedReply(err));
      }
    }),
  );
  return outcomes;
}

/** Run one attempt for a claim. Never throws; the claim is always recorded or released. */
export async function runAttempt(claim: QueueClaim, deps: AttemptDeps): Promise<void> {
  const { entry } = claim;
  const recipients = claim.recipients;
  const log = deps.logger;
  if (recipients.length === 0) {
    await deps.store.releaseClaim(entry.id, deps.owner).catch(() => undefined);
    return;
  }
  const now = deps.clock.now();
  let outcomes: Map<number, Outcome>;
  try {
    outcomes = await deliverAll(entry, recipients, deps, now);
  } catch (err) {
    log.error({ queueId: entry.id, err }, 'delivery attempt failed unexpectedly');
    outcomes = new Map(recipients.map((r) => [r.id, { ok: false, temporary: true, reply: unexpectedReply(err), host: null, fromRemote: false, remoteDsn: false }]));
  }
  const after = deps.clock.now();
  // Recipients without an outcome were not tried (shutdown): they stay as they are, due.
  const tried = recipients.filter((r) => outcomes.has(r.id));
  if (tried.length === 0) {
    await deps.store.releaseClaim(entry.id, deps.owner).catch(() => undefined);
    return;
  }

  // Decide each recipient's state.
  const results: RecipientResult[] = [];
  const bounced: ReportRecipient[] = [];
  const relayed: ReportRecipient[] = [];
  const deferred: ReportRecipient[] = [];
  for (const r of tried) {
    const o = outcomes.get(r.id)!;
    if (o.ok) {
      results.push({ recipientId: r.id, state: 'delivered', reply: o.reply, host: o.host });
      if (!o.remoteDsn) relayed.push({ recipient: r, reply: o.reply, host: o.host, fromRemote: o.fromRemote });
      continue;
    }
    if (!o.temporary) {
      results.push({ recipientId: r.id, state: 'bounced', reply: o.reply, host: o.host });
      bounced.push({ recipient: r, reply: o.reply, host: o.host, fromRemote: o.fromRemote });
      continue;
    }
    const next = afterTemporaryFailure(after, entry.createdAt, r.attempts + 1, deps.policy);
    if (next.state === 'bounced') {
      const reply = queueReplies.expired(o.reply, formatDelay(after.getTime() - entry.createdAt.getTime()));
      results.push({ recipientId: r.id, state: 'bounced', reply, host: o.host });
      bounced.push({ recipient: r, reply, host: o.host, fromRemote: o.fromRemote });
    } else {
      results.push({ recipientId: r.id, state: 'deferred', reply: o.reply, host: o.host, nextAttemptAt: next.nextAttemptAt });
      deferred.push({ recipient: r, reply: o.reply, host: o.host, fromRemote: o.fromRemote, willRetryUntil: expiresAt(entry.createdAt, deps.policy) });
    }
  }

  // Reports first, then the record (see the rules above).
  const notify = { store: deps.store, route: deps.route, hostname: deps.config.hostname, logger: log };
  if (bounced.length) {
    try {
      await sendReport(notify, entry, 'failure', bounced, after);
    } catch (err) {
      log.error({ queueId: entry.id, err }, 'could not write the bounce; the recipients stay deferred');
      const retry = new Date(after.getTime() + deps.policy.retrySchedule[0]! * 1000);
      for (const b of bounced) {
        const res = results.find((x) => x.recipientId === b.recipient.id)!;
        res.state = 'deferred';
        res.reply = queueReplies.bouncePending(res.reply, (err as Error).message);
        res.nextAttemptAt = retry;
      }
    }
  }
  if (relayed.length) {
    await sendReport(notify, entry, 'relayed', relayed, after).catch((err) => log.warn({ queueId: entry.id, err }, 'could not send the success report'));
  }
  if (deferred.length && warningDue(after, entry.createdAt, entry.warnedAt, deps.policy)) {
    try {
      await sendReport(notify, entry, 'delay', deferred, after);
      await deps.store.markWarned(entry.id, after);
    } catch (err) {
      log.warn({ queueId: entry.id, err }, 'could not send the delay warning; will try at the next attempt');
    }
  }

  try {
    await deps.recorder.record(entry.id, results);
  } catch (err) {
    // The store is unavailable: the lease expires and the recipients come round again.
    log.error({ queueId: entry.id, err }, 'could not record the delivery attempt');
    return;
  }

  const delay = formatDelay(after.getTime() - entry.createdAt.getTime());
  for (const res of results) {
    const r = recipients.find((x) => x.id === res.recipientId)!;
    const line = {
      queueId: entry.id,
      from: entry.sender,
      rcpt: r.address,
      host: res.host,
      reply: res.reply,
      delay,
      attempt: r.attempts + 1,
      state: res.state,
      ...(res.nextAttemptAt ? { nextAttemptAt: res.nextAttemptAt.toISOString() } : {}),
    };
    if (res.state === 'delivered') log.info(line, 'delivered');
    else if (res.state === 'deferred') log.warn(line, 'deferred');
    else log.warn(line, 'bounced');
  }
}
