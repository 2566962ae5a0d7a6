/**
 * ingest(): the one way a message body enters mailroom.
 *
 * Rules it keeps:
 * - The message is read once: the source (after an optional prefix such as
 *   Received: and Authentication-Results: lines) flows through the CRLF
 *   normaliser into the blob store and the MIME indexer at the same time. No
 *   second read of the blob, no whole-message buffer (a Buffer source is of
 *   course already whole).
 * - Stored bytes have CRLF line ends, so RFC822.SIZE and POP3 LIST equal the
 *   octets a client will receive.
 * - It resolves only after blobs.put() resolved, i.e. after the bytes are durable.
 * - Past `maxBytes` (counted on the normalised source, the prefix not included)
 *   it rejects with MessageTooLargeError; the blob stream is destroyed, so the
 *   store keeps no blob for it (and no row ever refers to a partial one).
 */
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CrlfState } from '../core/mime/crlf.js';
import { Indexer } from '../core/mime/index.js';
import type { MessageIndex } from '../core/mime/types.js';
import type { BlobRef, BlobStore } from './types.js';

export interface IngestOptions {
  /** Header lines to put before the message (CRLF-terminated). */
  prefix?: Buffer;
  /** Limit on the message's own size in octets (after CRLF normalisation). */
  maxBytes?: number;
}

export interface IngestResult {
  blob: BlobRef;
  index: MessageIndex;
}

/** The message exceeded maxBytes (SMTP 552 5.3.4, IMAP APPEND [TOOBIG], POP3 fetch skip). */
export class MessageTooLargeError extends Error {
  readonly code = 'tooLarge' as const;
  constructor(readonly limit: number) {
    super(`message exceeds the size limit of ${limit} octets`);
    this.name = 'MessageTooLargeError';
  }
}

export function isMessageTooLarge(err: unknown): err is MessageTooLargeError {
  return err instanceof MessageTooLargeError;
}

/** What ingest() reads: a Buffer, a Node stream, or any async iterable of bytes (strings are UTF-8). */
export type IngestSource = Buffer | Readable | NodeJS.ReadableStream | AsyncIterable<Buffer | Uint8Array | string>;

export async function ingest(blobs: BlobStore, source: IngestSource, opts: IngestOptions = {}): Promise<IngestResult> {
  const indexer = new Indexer();
  const crlf = new CrlfState();
  const prefix = opts.prefix !== undefined && opts.prefix.length > 0 ? opts.prefix : null;
  const limit = opts.maxBytes;

  // Buffers: no stream machinery needed, and put() gets one Buffer it can write at once.
  if (Buffer.isBuffer(source)) {
    const head = prefix === null ? Buffer.alloc(0) : crlf.push(prefix);
    const body = crlf.push(source);
    if (limit !== undefined && body.length > limit) throw new MessageTooLargeError(limit);
    const all = head.length === 0 ? body : Buffer.concat([head, body]);
    indexer.write(all);
    const blob = await blobs.put(all);
    return { blob, index: indexer.finish() };
  }

  let prefixLen = 0;
  let counted = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      const out = crlf.push(chunk);
      counted += out.length;
      if (limit !== undefined && counted - prefixLen > limit) {
        done(new MessageTooLargeError(limit));
        return;
      }
      if (out.length > 0) {
        indexer.write(out);
        this.push(out);
      }
      done();
    },
  });
  const toBlob = new PassThrough();
  const put = blobs.put(toBlob);
  // If the store fails first, stop the pipeline instead of waiting on a reader that is gone.
  put.catch((err: unknown) => toBlob.destroy(err instanceof Error ? err : new Error(String(err))));

  async function* input(): AsyncGenerator<Buffer> {
    if (prefix !== null) {
      prefixLen = new CrlfState().push(prefix).length;
      yield prefix;
    }
    for await (const chunk of source as AsyncIterable<Buffer | Uint8Array | string>) {
      yield toBuffer(chunk);
    }
  }

  try {
    await pipeline(input(), tap, toBlob);
  } catch (err) {
    toBlob.destroy(err instanceof Error ? err : new Error(String(err)));
    const putErr = await put.then(
      () => null,
      (e: unknown) => e,
    );
    // When the store gave up first, the pipeline only saw its reader go away: report the store's reason.
    const code = (err as { code?: unknown } | null)?.code;
    if (putErr !== null && (code === 'ABORT_ERR' || code === 'ERR_STREAM_PREMATURE_CLOSE')) throw putErr;
    throw err;
  }
  const blob = await put;
  return { blob, index: indexer.finish() };
}

function toBuffer(chunk: Buffer | Uint8Array | string): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
