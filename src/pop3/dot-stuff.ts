/**
 * The body of a multi-line response (RFC 1939 3): every line that starts with "."
 * gets one more "." in front, and the response ends with ".\r\n". Pure and
 * incremental, so a message streams through it chunk by chunk, with the state
 * (are we at the start of a line?) carried across chunk boundaries.
 *
 * With `bodyLines` it also cuts the message for TOP (RFC 1939 7): the header,
 * the blank line after it, then that many body lines; `done` turns true once the
 * cut is reached so the caller stops reading the blob.
 */
import { Transform, type TransformCallback } from 'node:stream';

const DOT = Buffer.from('.');
const LF_DOT = Buffer.from('\n.');
const CRLF = Buffer.from('\r\n');
const END = Buffer.from('.\r\n');

export class DotStuffer {
  private atLineStart = true;
  private sent = 0;
  private lastByte = -1;
  /** TOP: still in the header (until the first empty line). */
  private inHeader = true;
  private bodyLinesLeft: number;
  /** TOP: bytes of the current line so far, and whether they are just "\r". */
  private lineLen = 0;
  private lineIsCr = false;
  private finished = false;

  constructor(opts: { bodyLines?: number } = {}) {
    this.bodyLinesLeft = opts.bodyLines ?? -1;
  }

  /** True once a TOP cut has been reached: nothing more of the source is needed. */
  get done(): boolean {
    return this.finished;
  }

  /** Stuffed bytes to send for this chunk (possibly empty). */
  push(chunk: Buffer): Buffer {
    if (this.finished || chunk.length === 0) return Buffer.alloc(0);
    if (this.bodyLinesLeft >= 0) {
      const cut = this.findCut(chunk);
      if (cut !== -1) {
        this.finished = true;
        chunk = chunk.subarray(0, cut);
      }
    }
    return this.stuff(chunk);
  }

  /** What ends the response: a CRLF if the message did not end with one, then ".\r\n". */
  end(): Buffer {
    return this.sent > 0 && this.lastByte !== 10 ? Buffer.concat([CRLF, END]) : END;
  }

  private stuff(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const pieces: Buffer[] = [];
    if (this.atLineStart && chunk[0] === 46) pieces.push(DOT);
    let start = 0;
    let i = chunk.indexOf(LF_DOT);
    while (i !== -1) {
      pieces.push(chunk.subarray(start, i + 1), DOT);
      start = i + 1;
      i = chunk.indexOf(LF_DOT, start);
    }
    this.sent += chunk.length;
    this.lastByte = chunk[chunk.length - 1]!;
    this.atLineStart = this.lastByte === 10;
    if (pieces.length === 0) return chunk;
    pieces.push(chunk.subarray(start));
    return Buffer.concat(pieces);
  }

  /** Index just past the LF that completes the TOP cut in this chunk, or -1. */
  private findCut(chunk: Buffer): number {
    let pos = 0;
    for (;;) {
      const lf = chunk.indexOf(10, pos);
      if (lf === -1) {
        const n = chunk.length - pos;
        if (n > 0) {
          this.lineIsCr = this.lineLen === 0 && n === 1 && chunk[pos] === 13;
          this.lineLen += n;
        }
        return -1;
      }
      const n = lf - pos;
      const len = this.lineLen + n;
      const empty = len === 0 || (len === 1 && (n === 1 ? chunk[pos] === 13 : this.lineIsCr));
      this.lineLen = 0;
      this.lineIsCr = false;
      pos = lf + 1;
      if (this.inHeader) {
        if (!empty) continue;
        this.inHeader = false;
        if (this.bodyLinesLeft === 0) return pos;
        continue;
      }
      this.bodyLinesLeft--;
      if (this.bodyLinesLeft === 0) return pos;
    }
  }
}

/** The same as a stream: message bytes in, stuffed bytes (and the final ".\r\n") out. */
export class DotStuffTransform extends Transform {
  private readonly stuffer: DotStuffer;

  constructor(opts: { bodyLines?: number } = {}) {
    super();
    this.stuffer = new DotStuffer(opts);
  }

  get done(): boolean {
    return this.stuffer.done;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const out = this.stuffer.push(chunk);
    if (out.length) this.push(out);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.push(this.stuffer.end());
    cb();
  }
}
