/**
 * Deliver one message to one destination: try its hosts in order (MX
 * preference, then each host's addresses), one connection and one transaction
 * for all the recipients that share the destination.
 *
 * Rules:
 * - The next host is tried only for failures that are the host's, not the
 *   message's: no connection, a bad greeting, a lost connection or a 421
 *   before the message went out, a temporary refusal of MAIL FROM. A refusal
 *   of a recipient or of the message is the answer. Never another host once
 *   the body was sent (the first may have delivered).
 * - Opportunistic STARTTLS: when the handshake fails, the same host is tried
 *   again in plaintext at once (Postfix's "may" level), and remembered for an
 *   hour so the next message does not pay for the failure again. A smarthost
 *   with tls = "starttls" never falls back.
 * - Shutdown while waiting for a connection slot throws PoolClosedError: the
 *   message was not tried, and the caller must not count an attempt.
 * - A host that took part in a transaction gives the answer. When every host
 *   failed before that, the failure is temporary if any failed temporarily:
 *   only when every host refused for good (no address, 5xx greeting) is it final.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { OutboundConnection, type ConnectOptions, type Failure, type RecipientOutcome } from './connection.js';
import { lookupAddresses, type DnsResolver } from './dns.js';
import type { Destination, HostTarget } from './plan.js';
import type { ConnectionPool } from './pool.js';

export interface OutboundMessage {
  from: string;
  /**
   * A fresh stream of the bytes as they go on the wire (DKIM header + stored
   * message) and their size. Called only once a connection is ready, so the
   * work of preparing a message (reading, signing) is done by at most as many
   * messages at once as there are connections.
   */
  open(): Promise<{ body: Readable; size: number }>;
  dsnRet: 'FULL' | 'HDRS' | null;
  dsnEnvid: string | null;
}

export interface OutboundRecipient {
  address: string;
  dsnNotify: string | null;
  dsnOrcpt: string | null;
}

export interface DeliveryResult {
  address: string;
  ok: boolean;
  temporary: boolean;
  reply: string;
  /** "mx.example.org[192.0.2.1]:25" of the host that answered (or failed to), or null. */
  host: string | null;
  fromRemote: boolean;
  /** The remote took our NOTIFY: it sends success reports, we do not. */
  remoteDsn: boolean;
}

export interface DeliverContext {
  pool: ConnectionPool;
  resolver: DnsResolver;
  heloName: string;
  timeoutMs: number;
  /** Hosts whose STARTTLS failed recently: key → until (epoch ms). */
  tlsBroken: Map<string, number>;
  logger?: Logger;
}

const TLS_BROKEN_MS = 3600_000;

/** Connect to one host, trying each of its addresses; plaintext again when opportunistic TLS breaks. */
async function openHost(host: HostTarget, addresses: string[], ctx: DeliverContext): Promise<OutboundConnection> {
  let last: Failure | null = null;
  let anyTemporary = false;
  for (const address of addresses) {
    const broken = (ctx.tlsBroken.get(host.key) ?? 0) > Date.now();
    const base: ConnectOptions = {
      address,
      port: host.port,
      hostname: host.name,
      tls: host.tls === 'opportunistic' && broken ? 'none' : host.tls,
      verifyCertificate: host.verifyCertificate,
      heloName: ctx.heloName,
      timeoutMs: ctx.timeoutMs,
      auth: host.auth,
    };
    try {
      return await OutboundConnection.open(base);
    } catch (e) {
      const f = e as Failure;
      if (f.tlsFailed && host.tls === 'opportunistic' && base.tls !== 'none') {
        ctx.tlsBroken.set(host.key, Date.now() + TLS_BROKEN_MS);
        ctx.logger?.warn({ host: host.name, reply: f.reply }, 'STARTTLS failed; trying again without TLS');
        try {
          return await OutboundConnection.open({ ...base, tls: 'none' });
        } catch (e2) {
          last = e2 as Failure;
          anyTemporary ||= last.temporary;
          continue;
        }
      }
      last = f;
      anyTemporary ||= f.temporary;
    }
  }
  throw { ...(last as Failure), temporary: anyTemporary || (last?.temporary ?? true) } satisfies Failure;
}

/** RFC 3461 parameters for one transaction: NOTIFY when all agree, ORCPT only for a lone recipient. */
function dsnFor(message: OutboundMessage, recipients: OutboundRecipient[]) {
  const notify = recipients.every((r) => r.dsnNotify === recipients[0]!.dsnNotify) ? recipients[0]!.dsnNotify : null;
  const orcpt = recipients.length === 1 ? recipients[0]!.dsnOrcpt : null;
  if (!notify && !orcpt && !message.dsnRet && !message.dsnEnvid) return undefined;
  return { ret: message.dsnRet, envid: message.dsnEnvid, notify, orcpt };
}

export async function deliverToDestination(destination: Destination, message: OutboundMessage, recipients: OutboundRecipient[], ctx: DeliverContext): Promise<DeliveryResult[]> {
  const results = new Map<string, DeliveryResult>();
  const sawTemporary = new Set<string>();
  const note = (address: string, o: RecipientOutcome, host: string | null, remoteDsn = false) => {
    if (!o.ok && o.temporary) sawTemporary.add(address);
    results.set(address, { address, ok: o.ok, temporary: o.temporary, reply: o.reply, host, fromRemote: o.fromRemote, remoteDsn });
  };
  const noteAll = (o: Omit<RecipientOutcome, 'ok'>, host: string | null) => {
    for (const r of recipients) note(r.address, { ok: false, ...o }, host);
  };

  for (const host of destination.hosts) {
    let addresses: string[];
    if (host.resolve === 'dns') {
      const a = await lookupAddresses(ctx.resolver, host.name);
      if (!a.ok) {
        noteAll({ temporary: a.temporary, reply: a.reply, fromRemote: false }, host.name);
        continue;
      }
      addresses = a.addresses;
    } else {
      addresses = [host.name];
    }

    const slot = await ctx.pool.acquire(host.key);
    let conn = slot.connection;
    if (!conn) {
      try {
        conn = await openHost(host, addresses, ctx);
      } catch (e) {
        const f = e as Failure;
        ctx.pool.release(slot, null);
        noteAll({ temporary: f.temporary, reply: f.reply, fromRemote: f.fromRemote }, `${host.name}:${host.port}`);
        continue;
      }
    }
    ctx.pool.use(conn);

    let outcome;
    try {
      const { body, size } = await message.open();
      outcome = await conn.send({ from: message.from, to: recipients.map((r) => r.address), size, eightBit: true, dsn: dsnFor(message, recipients) }, body);
    } catch (err) {
      // Reading our own stored message failed: nothing went out; try again later.
      conn.destroy();
      ctx.pool.release(slot, conn);
      noteAll({ temporary: true, reply: `451 4.3.0 Local error reading the message: ${(err as Error).message}`, fromRemote: false }, null);
      return recipients.map((r) => results.get(r.address)!);
    }
    const remoteDsn = conn.supportsDsn && Boolean(dsnFor(message, recipients)?.notify);
    if (!outcome.reusable) conn.destroy();
    ctx.pool.release(slot, conn);
    for (const r of recipients) note(r.address, outcome.recipients.get(r.address)!, conn.where, remoteDsn);
    if (!outcome.tryNextHost) return recipients.map((r) => results.get(r.address)!);
  }

  // Every host failed before giving an answer: temporary if any failed temporarily.
  return recipients.map((r) => {
    const res = results.get(r.address)!;
    if (!res.ok && !res.temporary && sawTemporary.has(r.address)) return { ...res, temporary: true };
    return res;
  });
}
