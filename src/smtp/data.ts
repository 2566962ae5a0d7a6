/**
 * DATA: from the client's bytes to a durable message in mailboxes and queue,
 * and only then "250".
 *
 * Rules kept here (RFC 5321 4.1.1.4 and 6.1: once we say 250, the message is
 * ours to deliver):
 * - The message goes to a spool first (spool.ts) with line ends normalised
 *   (data-filter.ts). A client that disconnects or a message over the size
 *   limit ends there: nothing reaches the store.
 * - The checks that need the whole message run on the spool: NUL bytes (550
 *   5.6.0), too many Received fields (554 5.4.6, a mail loop), the From: of an
 *   authenticated sender (550 5.7.1), SPF/DKIM/DMARC/ARC for inbound mail, and
 *   DMARC p=reject when the administrator enabled it (550 5.7.1).
 * - Then ingest() writes the blob (fsynced) with our header lines in front:
 *   Received, Authentication-Results, and for submissions a Message-ID and a
 *   Date when missing. Authentication-Results fields that claim our own host
 *   name were not written by us, so they are removed (RFC 8601 5).
 * - route() commits the mailbox rows and queue entry. Its resolution is the
 *   moment of durability; 250 follows it, never precedes it.
 * - If some recipients fail inside route() while others succeed, the message
 *   is accepted and the failures are bounced (late-bounce.ts); if all fail,
 *   DATA gets their error (temporary if any failure is).
 */
import { Readable } from 'node:stream';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { formatAddress, lookupKey, parseMailbox, stripSubaddress } from '../core/address.js';
import { ingest } from '../store/ingest.js';
import type { MailEnvelope, RecipientDisposition } from '../delivery/types.js';
import type { ServiceContext } from '../service.js';
import { authenticateMessage, type DnsResolve } from './authenticate.js';
import { HeaderCollector, LineEndingFilter } from './data-filter.js';
import { replies, smtpError, SmtpError } from './errors.js';
import { addressesIn, countFields, hasField, isOwnAuthResults, newMessageId, parseHeaderFields, receivedHeader, type HeaderField } from './headers.js';
import { bounceLateFailures } from './late-bounce.js';
import type { MessageRate } from './limits.js';
import type { AuthState, ListenerKind, SessionState } from './session.js';
import { Spool } from './spool.js';
import { rfc5322Date } from '../core/dsn.js';

/** More Received fields than this is a loop (RFC 5321 6.3 suggests at least 100). */
export const MAX_HOPS = 100;

export interface DataDeps {
  ctx: ServiceContext;
  listener: ListenerKind;
  resolve: DnsResolve;
  rate: MessageRate;
  /** Sessions with a message in processing (server stop waits for them). */
  busy: Set<string>;
  state(session: SMTPServerSession): SessionState;
  authenticatedUser(session: SMTPServerSession, s: SessionState): Extract<AuthState, { kind: 'authenticated' }> | null;
}

type Failure = Extract<RecipientDisposition, { status: 'failed' }>;

/** The single DATA reply for a message whose every recipient failed. */
function allFailedError(failures: Failure[]): SmtpError {
  const temp = failures.find((f) => f.temporary);
  if (temp) {
    const code = temp.code === 452 ? 452 : 451;
    return smtpError({ code, enhanced: temp.enhanced.startsWith('4') ? temp.enhanced : '4.3.0', text: temp.message });
  }
  const f = failures[0]!;
  const code = [550, 552, 554].includes(f.code) ? f.code : 554;
  return smtpError({ code, enhanced: f.enhanced.startsWith('5') ? f.enhanced : '5.0.0', text: f.message });
}

function ownsAll(addresses: string[], own: Set<string>, separator: string): boolean {
  return addresses.every((a) => {
    const p = parseMailbox(a);
    if (!p.ok) return false;
    return own.has(lookupKey(p.address)) || own.has(lookupKey({ local: stripSubaddress(p.address.local, separator), domain: p.address.domain }));
  });
}

export function createDataHandler(deps: DataDeps) {
  const { ctx, listener, resolve, rate, busy } = deps;
  const { config, store } = ctx;
  const hostname = config.hostname;

  async function receive(stream: SMTPServerDataStream, session: SMTPServerSession, s: SessionState): Promise<string> {
    const queueId = `${session.id}.${session.transaction}`;
    const log = s.log.child({ qid: queueId });
    const filter = new LineEndingFilter();
    const head = new HeaderCollector();
    const spool = new Spool();
    try {
      let oversized = false;
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          if (oversized || stream.sizeExceeded) {
            oversized = true; // keep reading to the final dot, store nothing
            continue;
          }
          const out = filter.push(chunk);
          head.push(out);
          await spool.write(out);
        }
      } catch {
        log.info({ bytes: filter.stats.bytesIn }, 'client went away during DATA; nothing stored');
        throw smtpError('localError');
      }
      if (!stream.readableEnded) {
        log.info({ bytes: filter.stats.bytesIn }, 'DATA ended early; nothing stored');
        throw smtpError('localError');
      }
      if (oversized || stream.sizeExceeded) {
        log.info({ bytes: stream.byteLength, limit: config.smtp.maxMessageSize }, 'message over the size limit');
        throw smtpError('tooBig');
      }
      const last = filter.end();
      head.push(last);
      await spool.write(last);
      await spool.end();
      const { stats } = filter;
      if (stats.nul > 0) throw smtpError('nulBytes');
      if (stats.bareLf || stats.bareCr) log.debug({ bareLf: stats.bareLf, bareCr: stats.bareCr }, 'bare line ends normalised');

      const headerBlock = head.header();
      const fields = parseHeaderFields(headerBlock);
      if (countFields(fields, 'received') >= MAX_HOPS) throw smtpError('tooManyHops');

      const authed = deps.authenticatedUser(session, s);
      if (authed && config.submission.enforceSender) {
        const from = fields.filter((f) => f.name === 'from').flatMap((f) => addressesIn(f.value));
        if (!ownsAll(from, authed.own, config.smtp.subaddressSeparator)) throw smtpError('fromNotOwned');
      }

      // Our header lines, in the order they will stand.
      const mailFrom = s.sender ? formatAddress(s.sender) : '';
      const rcpts = session.envelope.rcptTo;
      const prefix: string[] = [
        receivedHeader({
          heloName: session.hostNameAppearsAs || null,
          clientHostname: session.clientHostname || null,
          clientIp: s.ip,
          hostname,
          protocol: session.transmissionType || 'ESMTP',
          id: queueId,
          tls: session.tlsOptions ? { version: session.tlsOptions.version, cipher: session.tlsOptions.name } : null,
          recipient: rcpts.length === 1 ? rcpts[0]!.address : null,
          date: new Date(),
        }),
      ];
      let authSummary: Record<string, string> | undefined;
      if (authed) {
        prefix.push(`Authentication-Results: ${hostname}; auth=pass smtp.auth=${authed.user.login.replace(/[\s;()"]/g, '')}\r\n`);
      } else if (config.smtp.authenticate) {
        const input: Readable | Buffer = spool.buffer() ?? spool.stream();
        const outcome = await authenticateMessage(input, {
          ip: s.ip,
          helo: session.hostNameAppearsAs || s.ip,
          sender: mailFrom,
          mta: hostname,
          resolver: resolve,
        });
        authSummary = outcome.summary;
        if (outcome.dmarcReject && config.smtp.dmarcReject) {
          log.info({ auth: outcome.summary, from: mailFrom }, 'rejected by DMARC policy');
          throw smtpError('dmarcReject');
        }
        prefix.push(outcome.headers);
      }
      if (listener !== 'mx' || authed) {
        // RFC 6409 8.2, 8.3: the submission server completes what the client left out.
        if (!hasField(fields, 'date')) prefix.push(`Date: ${rfc5322Date(new Date())}\r\n`);
        if (!hasField(fields, 'message-id')) prefix.push(`Message-ID: ${newMessageId(hostname)}\r\n`);
      }

      // Forged Authentication-Results carrying our name go; the rest of the header stays as it was.
      let source: Readable | Buffer = spool.buffer() ?? spool.stream();
      if (fields.some((f) => isOwnAuthResults(f, hostname)) && head.complete) {
        const kept = fields.filter((f: HeaderField) => !isOwnAuthResults(f, hostname)).map((f) => f.raw).join('');
        const rest = spool.stream(headerBlock.length);
        source = concatStreams(Buffer.from(kept, 'latin1'), rest);
      }

      const { blob, index } = await ingest(store.blobs, source, { prefix: Buffer.from(prefix.join(''), 'utf8'), maxBytes: spool.size });

      const envelope: MailEnvelope = {
        mailFrom,
        rcptTo: rcpts.map((r) => ({
          address: r.address,
          dsnNotify: r.dsn?.notify?.join(',') ?? null,
          dsnOrcpt: r.dsn?.orcpt ?? null,
        })),
        source: authed ? 'submission' : 'mx',
        authUserId: authed?.user.id,
        remoteIp: s.ip,
        heloName: session.hostNameAppearsAs || undefined,
        dsnRet: (session.envelope.dsn?.ret as 'FULL' | 'HDRS' | null | undefined) ?? null,
        dsnEnvid: session.envelope.dsn?.envid ?? null,
        id: queueId,
      };
      const result = await ctx.route(envelope, blob, index);
      const failures = result.recipients.filter((r): r is Failure => r.status === 'failed');
      if (failures.length === result.recipients.length) {
        log.info({ blob: blob.id, failures }, 'every recipient failed after DATA');
        throw allFailedError(failures);
      }
      rate.record(s.ip);
      s.errors = 0;
      log.info(
        {
          blob: blob.id,
          size: blob.size,
          from: mailFrom,
          to: result.recipients.map((r) => `${r.address}:${r.status}`),
          auth: authSummary,
          user: authed?.user.login,
        },
        'message accepted',
      );
      if (failures.length > 0) {
        await bounceLateFailures({ blobs: store.blobs, route: ctx.route, hostname, envelope, failures, header: headerBlock, queueId, logger: log }).catch((err: unknown) =>
          log.error({ err }, 'could not bounce late failures'),
        );
      }
      return `OK: queued as ${queueId}`;
    } finally {
      await spool.dispose();
    }
  }

  return function onData(stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void): void {
    const s = deps.state(session);
    busy.add(session.id);
    receive(stream, session, s)
      .then(
        (msg) => cb(null, msg),
        (err: unknown) => {
          if (err instanceof SmtpError) {
            s.errors++;
            return cb(err);
          }
          s.log.error({ err }, 'message could not be accepted');
          cb(smtpError(replies.localError));
        },
      )
      .finally(() => busy.delete(session.id));
  };
}

function concatStreams(first: Buffer, rest: Readable): Readable {
  return Readable.from(
    (async function* () {
      yield first;
      yield* rest;
    })(),
    { objectMode: false },
  );
}
