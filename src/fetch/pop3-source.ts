/**
 * A POP3 maildrop as a RemoteSource: one folder ("INBOX"), ids are UIDLs.
 * DELE marks are sent at once but take effect only at QUIT (close()); a poll
 * that breaks off before QUIT deletes nothing, and the next poll deletes what
 * it finds already delivered.
 */
import { FetchError } from './errors.js';
import { Pop3Client } from './pop3-client.js';
import { BUFFER_LIMIT, type RemoteMessage, type RemoteSource, type Retrieved, type SourceOptions } from './source.js';

export const POP3_FOLDER = 'INBOX';

export async function openPop3Source(opts: SourceOptions): Promise<RemoteSource> {
  const { account } = opts;
  const client = await Pop3Client.connect({
    host: account.host,
    port: account.port,
    tls: account.tls,
    tlsOptions: opts.tlsOptions,
    timeoutMs: opts.timeoutMs,
    connectTimeoutMs: opts.timeoutMs,
    logger: opts.logger,
  });
  try {
    await client.login(account.username, opts.password);
  } catch (err) {
    client.destroy();
    throw err;
  }
  return {
    protocol: 'pop3',
    folders: [POP3_FOLDER],
    async list(folder) {
      if (folder !== POP3_FOLDER) throw new FetchError('config', `POP3 has no folder "${folder}"`, false);
      const seenIds = new Set<string>();
      const out: RemoteMessage[] = [];
      for (const m of await client.messages()) {
        // A server that repeats a UIDL breaks the no-duplicates promise; fetch such a message once.
        if (seenIds.has(m.uid)) continue;
        seenIds.add(m.uid);
        out.push({ id: m.uid, size: m.size, ref: m.n });
      }
      return out;
    },
    async *retrieve(messages): AsyncIterable<Retrieved> {
      for (const message of messages) {
        if (message.size <= BUFFER_LIMIT) yield { message, body: await client.retrBuffer(message.ref) };
        else yield { message, body: client.retr(message.ref) };
      }
    },
    async delete(messages) {
      for (const m of messages) await client.dele(m.ref);
    },
    close: () => client.quit(),
    abort: () => client.destroy(),
  };
}
