/**
 * One poll of one external account: connect, and for each folder list the
 * remote messages, deliver the ones not seen before, delete what the account's
 * policy says may go, forget ids that are gone, and record the outcome.
 *
 * Rules it keeps:
 * - Never two polls of one account at once, across processes and nodes: the
 *   poll holds the store lock "fetch:<id>" (tryLock with a lease it renews);
 *   if another holds it, the poll is skipped ("busy"). If the lease cannot be
 *   renewed, the poll stops at the next message.
 * - Order per message: stored → routed (durable) → marked seen (deliver.ts);
 *   remote deletion only of messages already marked seen, after the folder's
 *   deliveries. A crash anywhere loses nothing: unseen messages are fetched
 *   again, seen ones are skipped (and deleted, if the policy says so).
 * - Messages are stored a few at a time (fetching the next while one is being
 *   written), but route() runs in remote order, so a mailbox keeps the order.
 * - A message that cannot be delivered now stays on the remote and is tried at
 *   the next poll; the others go on. A broken connection or a store that
 *   cannot write ends the poll; what was delivered so far stays delivered.
 * - Every poll ends with recordPoll(): its error (or null) and the count,
 *   which `mailroom fetch list` shows.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Recipients, Route } from '../delivery/types.js';
import type { ExternalAccount, Store } from '../store/types.js';
import { PARTIAL_SEP, routeFetched, storeFetched, type DeliverContext, type StoredMessage } from './deliver.js';
import { FetchError, toFetchError } from './errors.js';
import { openImapSource } from './imap-source.js';
import { openPop3Source } from './pop3-source.js';
import { createAddressResolver } from './recipients.js';
import type { RemoteMessage, RemoteSource, SourceOptions } from './source.js';

export interface PollProgress {
  account: string;
  folder: string;
  phase: 'connect' | 'list' | 'fetch' | 'delete' | 'done';
  /** New messages in this folder. */
  total: number;
  /** Delivered so far in this folder. */
  done: number;
  /** Left on the server for the next poll. */
  failed: number;
  bytes: number;
}

export interface PollDeps {
  store: Store;
  route: Route;
  /** The recipient lookups route() makes: who is local, for multi-drop. */
  recipients: Recipients;
  config: Config;
  secrets: { unseal(sealed: string): string };
  logger: Logger;
  /** Lock owner: unique per process (and node). */
  owner?: string;
  /** TLS options for the remote (default: from config.fetch: ca_file, insecure_hosts). */
  tlsOptions?: tls.ConnectionOptions;
  openSource?: (opts: SourceOptions) => Promise<RemoteSource>;
  onProgress?: (p: PollProgress) => void;
  signal?: AbortSignal;
  now?: () => Date;
  /** Messages being written at once (default 4). */
  concurrency?: number;
  /** Lock lease in ms (default 120 s; renewed every third of it). */
  leaseMs?: number;
  /** After `signal` aborts, how long a stalled remote may hold the poll before the connection is cut (default 5 s). */
  abortGraceMs?: number;
}

export interface PollResult {
  account: string;
  /** Messages delivered by this poll. */
  fetched: number;
  /** Messages left on the server to be tried again. */
  failed: number;
  /** Remote deletions sent. */
  deleted: number;
  /** Another process was polling this account. */
  skipped: boolean;
  /** What went wrong (also recorded in the store); null when all went well. */
  error: FetchError | null;
  durationMs: number;
}

export function lockName(accountId: number): string {
  return `fetch:${accountId}`;
}

/**
 * Seen-table mark of a folder whose deliveries are under way; still there at
 * the next poll only if the process died mid-poll (see deliver.ts, recovery).
 */
export const INFLIGHT_MARK = PARTIAL_SEP + 'inflight';

/** TLS options for a remote host from config.fetch (extra CA file, hosts not verified). */
export function remoteTlsOptions(config: Config, host: string): tls.ConnectionOptions {
  const opts: tls.ConnectionOptions = { minVersion: 'TLSv1.2' };
  if (config.fetch.caFile) opts.ca = [...tls.rootCertificates, readFileSync(config.fetch.caFile, 'utf8')];
  if (config.fetch.insecureHosts.map((h) => h.toLowerCase()).includes(host.toLowerCase())) opts.rejectUnauthorized = false;
  return opts;
}

function defaultOpenSource(opts: SourceOptions): Promise<RemoteSource> {
  return opts.account.protocol === 'pop3' ? openPop3Source(opts) : openImapSource(opts);
}

export async function pollAccount(account: ExternalAccount, deps: PollDeps): Promise<PollResult> {
  const started = Date.now();
  const now = deps.now ?? (() => new Date());
  const owner = deps.owner ?? `poll-${randomUUID()}`;
  const leaseMs = deps.leaseMs ?? 120_000;
  const log = deps.logger.child({ account: account.name });
  const result: PollResult = { account: account.name, fetched: 0, failed: 0, deleted: 0, skipped: false, error: null, durationMs: 0 };
  const lock = lockName(account.id);

  if (!(await deps.store.tryLock(lock, owner, leaseMs))) {
    result.skipped = true;
    result.error = new FetchError('busy', `another process is polling this account right now (one that died holds it until its ${Math.round(leaseMs / 1000)} s lease runs out)`);
    result.durationMs = Date.now() - started;
    return result;
  }
  let lost = false;
  const renew = setInterval(() => {
    deps.store.tryLock(lock, owner, leaseMs).then(
      (ok) => {
        if (!ok) lost = true;
      },
      () => undefined,
    );
  }, Math.max(1000, Math.floor(leaseMs / 3)));
  renew.unref();

  let source: RemoteSource | null = null;
  // On shutdown the poll stops at the next message; a remote that keeps it
  // waiting longer than the grace period is cut off (POP3 then applies no
  // deletions, and every delivered message is already marked seen).
  let cutoff: NodeJS.Timeout | undefined;
  const onAbort = () => {
    cutoff = setTimeout(() => source?.abort(), deps.abortGraceMs ?? 5000);
    cutoff.unref();
  };
  deps.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const target = await deps.store.getUser(account.targetUserId);
    if (!target) throw new FetchError('config', `the account's local user (id ${account.targetUserId}) no longer exists`, false);
    let password: string;
    try {
      password = deps.secrets.unseal(account.sealedPassword);
    } catch (err) {
      throw new FetchError('config', 'the stored password cannot be unsealed (was the secret key replaced?)', false, { cause: err });
    }
    deps.onProgress?.({ account: account.name, folder: '', phase: 'connect', total: 0, done: 0, failed: 0, bytes: 0 });
    let tlsOptions: tls.ConnectionOptions;
    try {
      tlsOptions = deps.tlsOptions ?? remoteTlsOptions(deps.config, account.host);
    } catch (err) {
      throw new FetchError('config', `fetch.ca_file cannot be read: ${(err as Error).message}`, false, { cause: err });
    }
    source = await (deps.openSource ?? defaultOpenSource)({
      account,
      password,
      tlsOptions,
      timeoutMs: deps.config.fetch.timeout * 1000,
      logger: log,
    });
    const ctxBase = {
      store: deps.store,
      route: deps.route,
      config: deps.config,
      logger: log,
      account,
      target,
      resolver: createAddressResolver(deps.store, deps.recipients),
      now,
    };
    const stop = () => deps.signal?.aborted || lost;
    for (const folder of source.folders) {
      if (stop()) break;
      let r: FolderResult;
      try {
        r = await pollFolder(source, { ...ctxBase, folder }, deps, stop);
      } catch (err) {
        // A folder that is missing on the remote does not keep the others from being polled.
        const fe = toFetchError(err);
        if (fe.code !== 'unsupported' || source.protocol !== 'imap') throw err;
        result.error ??= fe;
        continue;
      }
      result.fetched += r.fetched;
      result.failed += r.failed;
      result.deleted += r.deleted;
      if (r.error && !result.error) result.error = r.error;
      if (r.fatal) break;
    }
    if (lost && !result.error) result.error = new FetchError('busy', 'the poll lost its lock (stalled too long) and stopped');
    const s = source;
    source = null;
    await s.close();
  } catch (err) {
    source?.abort();
    const fe = toFetchError(err);
    if (!result.error || result.error.code === 'delivery') result.error = fe;
  } finally {
    clearInterval(renew);
    clearTimeout(cutoff);
    deps.signal?.removeEventListener('abort', onAbort);
    result.durationMs = Date.now() - started;
    try {
      await deps.store.recordPoll(account.id, now(), { error: result.error?.summary ?? null, count: result.fetched });
    } catch (err) {
      log.error({ err }, 'could not record the poll');
    }
    await deps.store.unlock(lock, owner).catch(() => undefined);
  }
  const level = result.error ? 'warn' : 'info';
  log[level]({ fetched: result.fetched, failed: result.failed, deleted: result.deleted, ms: result.durationMs, error: result.error?.summary }, 'poll finished');
  return result;
}

interface FolderResult {
  fetched: number;
  failed: number;
  deleted: number;
  error: FetchError | null;
  /** Stop the poll: the store cannot write, or the connection is gone. */
  fatal: boolean;
}

async function pollFolder(source: RemoteSource, ctx: DeliverContext, deps: PollDeps, stop: () => boolean): Promise<FolderResult> {
  const { store, account, folder } = ctx;
  const out: FolderResult = { fetched: 0, failed: 0, deleted: 0, error: null, fatal: false };
  const progress = (phase: PollProgress['phase'], total: number, bytes: number) =>
    deps.onProgress?.({ account: account.name, folder, phase, total, done: out.fetched, failed: out.failed, bytes });

  const seen = await store.seenRemoteIds(account.id, folder);
  const listing = await source.list(folder);
  // Recipients a previous, partly failed delivery already reached ("id<TAB>address").
  const partial = new Map<string, Set<string>>();
  for (const key of seen.keys()) {
    const tab = key.indexOf(PARTIAL_SEP);
    if (tab <= 0) continue;
    const id = key.slice(0, tab);
    let set = partial.get(id);
    if (!set) partial.set(id, (set = new Set()));
    set.add(key.slice(tab + 1));
  }
  const fresh = listing.filter((m) => !seen.has(m.id));
  const newlySeen = new Map<string, Date>();
  let bytes = 0;
  progress('list', fresh.length, 0);
  // The previous poll of this folder died mid-way: look before routing again.
  const recovering = seen.has(INFLIGHT_MARK);
  if (recovering) ctx.logger.warn({ folder, unseen: fresh.length }, 'the previous poll did not finish; checking mailboxes before delivering again');
  else if (fresh.length > 0) await store.markRemoteSeen(account.id, folder, INFLIGHT_MARK, ctx.now());
  const dctx: DeliverContext = { ...ctx, recovering };

  // Stage 1 (store) runs up to `concurrency` messages ahead; stage 2 (route) in order.
  const concurrency = Math.max(1, deps.concurrency ?? 4);
  const inflight = new Set<Promise<void>>();
  let order: Promise<void> = Promise.resolve();
  // The connection broke: retrieve nothing more, but deliver what already arrived.
  let cut: FetchError | null = null;
  // The store cannot write: route nothing more.
  let broken: FetchError | null = null;

  const handle = (message: RemoteMessage, stored: Promise<StoredMessage>, streamed: boolean): Promise<void> => {
    const prev = order;
    const mine = (async () => {
      let s: StoredMessage;
      try {
        s = await stored;
      } catch (err) {
        await prev;
        out.failed++;
        const fe = toFetchError(err, 'delivery');
        // A stream that broke means the connection is gone; a failed write means the store is.
        if (streamed && ['closed', 'timeout', 'protocol', 'connect', 'tls'].includes(fe.code)) cut ??= fe;
        else broken ??= new FetchError('delivery', `the message could not be stored: ${fe.message}`, true, { cause: err });
        return;
      }
      await prev;
      if (broken) {
        out.failed++;
        return;
      }
      const r = await routeFetched(dctx, message, s, partial.get(message.id) ?? new Set()).catch(
        (err: unknown) => ({ kind: 'deferred', fatal: true, error: toFetchError(err, 'delivery') }) as const,
      );
      if (r.kind === 'delivered') {
        out.fetched++;
        bytes += message.size;
        newlySeen.set(message.id, ctx.now());
      } else {
        out.failed++;
        out.error ??= r.error;
        if (r.fatal) broken ??= r.error;
      }
      progress('fetch', fresh.length, bytes);
    })();
    order = mine;
    return mine;
  };

  try {
    for await (const item of source.retrieve(fresh)) {
      if (stop() || cut || broken) {
        if (!Buffer.isBuffer(item.body)) item.body.destroy();
        break;
      }
      const streamed = !Buffer.isBuffer(item.body);
      const stored = storeFetched(dctx, item.message, item.body);
      stored.catch(() => undefined);
      // A stream holds the connection: finish it before asking for the next message.
      if (streamed) await stored.catch(() => undefined);
      const p = handle(item.message, stored, streamed);
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      if (inflight.size >= concurrency) await Promise.race(inflight);
    }
  } catch (err) {
    cut ??= toFetchError(err, 'closed');
  }
  await Promise.all(inflight);
  await order;
  // Every route() of this folder has settled: nothing is half-done any more.
  if (recovering || fresh.length > 0) await store.forgetRemoteSeen(account.id, folder, [INFLIGHT_MARK]);
  const fatal = (broken ?? cut) as FetchError | null;
  if (fatal) {
    out.error = fatal;
    out.fatal = true;
    out.failed = fresh.length - out.fetched;
    progress('done', fresh.length, bytes);
    return out;
  }
  if (stop()) {
    progress('done', fresh.length, bytes);
    return out;
  }

  // Remote deletion: only what is durably delivered, and only as the policy allows.
  const seenAt = (id: string) => newlySeen.get(id) ?? seen.get(id);
  let doomed: RemoteMessage[] = [];
  if (account.keep === 'delete') {
    doomed = listing.filter((m) => seenAt(m.id) !== undefined);
  } else if (account.keep === 'deleteAfterDays') {
    const cutoff = ctx.now().getTime() - account.deleteAfterDays * 86_400_000;
    doomed = listing.filter((m) => {
      const at = seenAt(m.id);
      return at !== undefined && at.getTime() <= cutoff;
    });
  }
  if (doomed.length > 0) {
    progress('delete', fresh.length, bytes);
    await source.delete(doomed);
    out.deleted = doomed.length;
  }

  // Forget ids the remote no longer has (and partial marks of messages now complete).
  const present = new Set(listing.map((m) => m.id));
  const stale: string[] = [];
  for (const key of seen.keys()) {
    if (key === INFLIGHT_MARK) continue;
    const tab = key.indexOf(PARTIAL_SEP);
    const id = tab === -1 ? key : key.slice(0, tab);
    if (!present.has(id) || (tab !== -1 && (seen.has(id) || newlySeen.has(id)))) stale.push(key);
  }
  if (stale.length > 0) await store.forgetRemoteSeen(account.id, folder, stale);
  progress('done', fresh.length, bytes);
  return out;
}
