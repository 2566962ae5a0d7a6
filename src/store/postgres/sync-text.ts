/**
 * MessageRecord.index.text is a plain (synchronous) property, and the decoded
 * body text can be up to a megabyte, so getMessages does not fetch it: FETCH,
 * SORT and THREAD never read it (SEARCH runs in SQL). The SQLite store reads
 * it lazily with a synchronous query; PostgreSQL has no synchronous client,
 * so the rare reader gets it from a helper thread while this thread waits on
 * an Atomics lock (the pattern of synckit): a query's round trip during which
 * the event loop is blocked. Nothing in the server's hot paths reads it.
 *
 * The thread is started on first use, holds one connection, does not keep
 * the process alive, and is stopped with the store.
 */
import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const pg = require(workerData.pgPath);
const client = new pg.Client({ connectionString: workerData.url, application_name: 'mailroom-text' });
const ready = client.connect().catch((err) => err);
parentPort.on('message', async ({ blobId, port, signal }) => {
  let reply;
  try {
    const err = await ready;
    if (err instanceof Error) throw err;
    const r = await client.query('SELECT body_text FROM blobs WHERE id = $1', [blobId]);
    reply = { text: r.rows[0] ? r.rows[0].body_text || '' : '' };
  } catch (err) {
    reply = { error: String(err && err.message || err) };
  }
  port.postMessage(reply);
  port.close();
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
});
`;

const TIMEOUT_MS = 15_000;

export interface TextLoader {
  /** The stored body text of a blob ('' when unknown or on failure). Blocks this thread. */
  load(blobId: string): string;
  close(): Promise<void>;
}

export function createTextLoader(url: string): TextLoader {
  let worker: Worker | null = null;
  let closed = false;

  const start = (): Worker => {
    const pgPath = createRequire(import.meta.url).resolve('pg');
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { url, pgPath } });
    w.unref();
    w.on('error', () => {
      if (worker === w) worker = null;
    });
    w.on('exit', () => {
      if (worker === w) worker = null;
    });
    return w;
  };

  return {
    load(blobId) {
      if (closed) return '';
      worker ??= start();
      const signal = new Int32Array(new SharedArrayBuffer(4));
      const { port1, port2 } = new MessageChannel();
      try {
        worker.postMessage({ blobId, port: port2, signal }, [port2 as MessagePort]);
        if (Atomics.wait(signal, 0, 0, TIMEOUT_MS) === 'timed-out') return '';
        const msg = receiveMessageOnPort(port1)?.message as { text?: string; error?: string } | undefined;
        return msg?.text ?? '';
      } finally {
        port1.close();
      }
    },
    async close() {
      closed = true;
      const w = worker;
      worker = null;
      await w?.terminate();
    },
  };
}
