/**
 * The bytes of a RETR or TOP reply: status line, the message dot-stuffed, the
 * terminating ".". Large messages stream from the blob store chunk by chunk
 * (never whole in memory); small ones (up to one stream chunk) are read in one
 * call, and the next one is read ahead, because clients retrieve in order
 * (RETR 1, RETR 2, ...) and the disk wait then overlaps the network round trip.
 */
import { isStoreError } from '../store/errors.js';
import type { BlobStore } from '../store/types.js';
import { DotStuffer } from './dot-stuff.js';
import { errors } from './errors.js';
import type { DropMessage } from './maildrop.js';

/** Messages up to this size are read in one call (the blob stream's own chunk size). */
export const SMALL_MESSAGE = 64 * 1024;

export class MessageReader {
  private ahead: { blobId: string; data: Promise<Buffer | null> } | null = null;

  constructor(private readonly blobs: BlobStore) {}

  /**
   * The reply in pieces to write in order. Fails before the first piece when the
   * message cannot be read (so the client can still get a clean -ERR).
   */
  async *reply(n: number, msg: DropMessage, head: string, bodyLines?: number): AsyncGenerator<Buffer> {
    const stuffer = new DotStuffer(bodyLines === undefined ? {} : { bodyLines });
    const status = Buffer.from(`+OK ${head}\r\n`);
    if (msg.size <= SMALL_MESSAGE) {
      const data = await this.readSmall(n, msg);
      yield Buffer.concat([status, stuffer.push(data), stuffer.end()]);
      return;
    }
    const source = await this.blobs.open(msg.blobId).catch((err: unknown) => {
      throw isStoreError(err, 'notFound') ? errors.messageGone(n) : err;
    });
    try {
      // One chunk is held back so the status line goes out with the first chunk
      // and the terminator with the last.
      let pending: Buffer = status;
      for await (const chunk of source) {
        const out = stuffer.push(chunk as Buffer);
        if (out.length) {
          yield pending;
          pending = out;
        }
        if (stuffer.done) break;
      }
      yield Buffer.concat([pending, stuffer.end()]);
    } finally {
      source.destroy();
    }
  }

  /** Start reading `msg` now if it is small (the message the client will likely ask for next). */
  readAhead(msg: DropMessage | null): void {
    if (!msg || msg.size > SMALL_MESSAGE) return;
    this.ahead = { blobId: msg.blobId, data: this.blobs.read(msg.blobId).catch(() => null) };
  }

  private async readSmall(n: number, msg: DropMessage): Promise<Buffer> {
    const ahead = this.ahead;
    this.ahead = null;
    if (ahead && ahead.blobId === msg.blobId) {
      const data = await ahead.data;
      if (data) return data;
    }
    try {
      return await this.blobs.read(msg.blobId);
    } catch (err) {
      throw isStoreError(err, 'notFound') ? errors.messageGone(n) : err;
    }
  }
}
