/**
 * An IMAP account as a RemoteSource, through imapflow (RFC 9051/3501).
 *
 * - Ids are "UIDVALIDITY:UID": if the provider recreates a folder (new
 *   UIDVALIDITY), old ids no longer match and are forgotten, never confused
 *   with new messages.
 * - Bodies are read with BODY.PEEK[] (imapflow's `source`), so fetching does
 *   not set \Seen; a folder polled in "keep" mode is opened read-only.
 * - Small messages are fetched in batches (one round trip for many); big ones
 *   are streamed one by one with imapflow's chunked download.
 * - Deletion is STORE \Deleted then UID EXPUNGE (UIDPLUS), or EXPUNGE on
 *   servers without UIDPLUS.
 */
import { ImapFlow, type FetchMessageObject } from 'imapflow';
import { FetchError, toFetchError } from './errors.js';
import { BUFFER_LIMIT, type RemoteMessage, type RemoteSource, type Retrieved, type SourceOptions } from './source.js';

/** Messages per FETCH round trip, and the byte budget of one batch. */
const BATCH_COUNT = 50;
const BATCH_BYTES = 8 * 1024 * 1024;

export async function openImapSource(opts: SourceOptions): Promise<RemoteSource> {
  const { account } = opts;
  const client = new ImapFlow({
    host: account.host,
    port: account.port,
    secure: account.tls === 'implicit',
    doSTARTTLS: account.tls === 'starttls',
    auth: { user: account.username, pass: opts.password },
    tls: opts.tlsOptions,
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: opts.timeoutMs,
    greetingTimeout: opts.timeoutMs,
    socketTimeout: Math.max(opts.timeoutMs, 30_000),
    clientInfo: { name: 'mailroom' },
  });
  // imapflow reports socket trouble as 'error' events too; the command in flight rejects as well.
  client.on('error', (err: unknown) => opts.logger?.debug({ err }, 'imap source connection error'));
  try {
    await client.connect();
  } catch (err) {
    client.close();
    throw imapError(err);
  }

  const folders = account.folders.length > 0 ? account.folders : ['INBOX'];
  let uidValidity = '';

  return {
    protocol: 'imap',
    folders,
    async list(folder) {
      try {
        const mailbox = await client.mailboxOpen(folder, { readOnly: account.keep === 'keep' });
        uidValidity = String(mailbox.uidValidity);
        if (mailbox.exists === 0) return [];
        const out: RemoteMessage[] = [];
        for (const m of await client.fetchAll('1:*', { uid: true, size: true })) {
          out.push({ id: `${uidValidity}:${m.uid}`, size: m.size ?? 0, ref: m.uid });
        }
        out.sort((a, b) => a.ref - b.ref);
        return out;
      } catch (err) {
        const e = err as { responseText?: string; serverResponseCode?: string };
        if (e?.serverResponseCode === 'NONEXISTENT' || /doesn't exist|not exist|no such/i.test(e?.responseText ?? '')) {
          throw new FetchError('unsupported', `folder "${folder}" does not exist on ${account.host}`, true, { cause: err });
        }
        throw imapError(err);
      }
    },
    async *retrieve(messages): AsyncIterable<Retrieved> {
      let i = 0;
      while (i < messages.length) {
        const first = messages[i]!;
        if (first.size > BUFFER_LIMIT) {
          const dl = await client.download(String(first.ref), undefined, { uid: true }).catch((err: unknown) => {
            throw imapError(err);
          });
          i++;
          // Gone since the listing (expunged by someone else): nothing to fetch.
          if (dl.content) yield { message: first, body: dl.content };
          continue;
        }
        const batch: RemoteMessage[] = [];
        let bytes = 0;
        while (i < messages.length && batch.length < BATCH_COUNT && messages[i]!.size <= BUFFER_LIMIT && bytes + messages[i]!.size <= BATCH_BYTES) {
          bytes += messages[i]!.size;
          batch.push(messages[i]!);
          i++;
        }
        let fetched: FetchMessageObject[];
        try {
          fetched = await client.fetchAll(batch.map((m) => m.ref).join(','), { uid: true, source: true }, { uid: true });
        } catch (err) {
          throw imapError(err);
        }
        const byUid = new Map(fetched.map((f) => [f.uid, f.source]));
        for (const m of batch) {
          const source = byUid.get(m.ref);
          if (source) yield { message: m, body: source };
        }
      }
    },
    async delete(messages) {
      if (messages.length === 0) return;
      const ok = await client.messageDelete(messages.map((m) => m.ref).join(','), { uid: true }).catch((err: unknown) => {
        throw imapError(err);
      });
      if (!ok) throw new FetchError('protocol', `the server refused to delete ${messages.length} message(s)`);
    },
    async close() {
      try {
        await client.logout();
      } catch {
        client.close();
      }
    },
    abort: () => client.close(),
  };
}

function imapError(err: unknown): FetchError {
  const e = err as { authenticationFailed?: boolean; responseText?: string; code?: string; message?: string };
  if (e?.authenticationFailed) return new FetchError('auth', `login refused: ${e.responseText || e.message || 'authentication failed'}`, true, { cause: err });
  if (e?.code === 'STARTTLS_INJECTION' || e?.code === 'ClosedAfterConnectTLS' || /STARTTLS/i.test(e?.message ?? '')) {
    return new FetchError('tls', e.message ?? 'STARTTLS failed', true, { cause: err });
  }
  const fe = toFetchError(err, 'protocol');
  if (e?.responseText && !fe.message.includes(e.responseText)) return new FetchError(fe.code, `${fe.message}: ${e.responseText}`, fe.temporary, { cause: err });
  return fe;
}
