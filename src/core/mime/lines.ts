/**
 * Incremental line splitter for the MIME scanner.
 *
 * Splits bytes into lines (terminated by LF, with an optional CR before it)
 * while keeping memory bounded: a line is buffered only until its first
 * HEAD_BYTES bytes are known (enough to tell a boundary or a header field name);
 * the rest of a long line (a 50 MB base64 body without line breaks) is passed
 * on as it arrives. Offsets are absolute byte positions in the input, and `lf`
 * counts the LFs before a line, so line counts of any byte range can be taken
 * from two line starts.
 */

const LF = 0x0a;
const CR = 0x0d;

/** Bytes of a line gathered before it is handed over (boundaries are capped well below). */
export const HEAD_BYTES = 2048;

/**
 * Byte ranges are passed as (buf, from, to) rather than as subarrays: a message
 * of short lines would otherwise allocate a Buffer object per line.
 */
export interface LineSink {
  /**
   * A line begins at `start`, with `lf` LFs before it. Its head, buf[from, to),
   * is its content (without the line end) when the line is shorter than
   * HEAD_BYTES, else at least the first HEAD_BYTES - 1 bytes of it; `lineMore`
   * brings the rest.
   */
  lineStart(start: number, lf: number, buf: Buffer, from: number, to: number): void;
  lineMore(buf: Buffer, from: number, to: number): void;
  /** The line ended: nl is the length of its line end (2 for CRLF, 1 for LF, 0 at end of input); `end` is the offset after it. */
  lineEnd(nl: 0 | 1 | 2, end: number): void;
}

export class LineSplitter {
  private pos = 0;
  private lf = 0;
  private lineStartPos = 0;
  /** Head bytes gathered while the head is not handed over yet. */
  private head: Buffer[] = [];
  private headLen = 0;
  private headSent = false;
  /** After the head was sent: a CR at the end of the last piece, held back since it may be the line end's. */
  private heldCr = false;
  /** A line is in progress (at least one byte seen since the last line end). */
  private inLine = false;

  constructor(private readonly sink: LineSink) {}

  get offset(): number {
    return this.pos;
  }

  get lines(): number {
    return this.lf;
  }

  write(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      const nl = chunk.indexOf(LF, i);
      if (nl === -1) {
        this.inLine = true;
        this.content(chunk, i, n);
        this.pos += n - i;
        return;
      }
      this.pos += nl + 1 - i;
      this.endLine(chunk, i, nl);
      i = nl + 1;
    }
  }

  /** End of input: hands over a last line that has no line end. */
  finish(): void {
    if (!this.inLine) return;
    if (!this.headSent) {
      const head = concat(this.head, this.headLen);
      this.sink.lineStart(this.lineStartPos, this.lf, head, 0, head.length);
    } else if (this.heldCr) {
      this.sink.lineMore(CR_BUF, 0, 1);
    }
    this.reset();
    this.sink.lineEnd(0, this.pos);
  }

  /** Content bytes buf[from, to) of the current line, no LF among them. */
  private content(buf: Buffer, from: number, to: number): void {
    if (from >= to) return;
    if (!this.headSent) {
      // A copy: the caller may reuse its buffer once write() returns.
      this.head.push(Buffer.from(buf.subarray(from, to)));
      this.headLen += to - from;
      if (this.headLen < HEAD_BYTES) return;
      const all = concat(this.head, this.headLen);
      this.head = [];
      this.headLen = 0;
      this.headSent = true;
      const keepCr = all[all.length - 1] === CR;
      this.sink.lineStart(this.lineStartPos, this.lf, all, 0, keepCr ? all.length - 1 : all.length);
      this.heldCr = keepCr;
      return;
    }
    if (this.heldCr) {
      this.heldCr = false;
      this.sink.lineMore(CR_BUF, 0, 1);
    }
    let end = to;
    if (buf[end - 1] === CR) {
      this.heldCr = true;
      end--;
    }
    if (end > from) this.sink.lineMore(buf, from, end);
  }

  /** The LF at buf[nl] ends the current line; buf[from, nl) is the content before it. */
  private endLine(buf: Buffer, from: number, nl: number): void {
    let len: 1 | 2 = 1;
    if (!this.headSent) {
      let b = buf;
      let f = from;
      let t = nl;
      if (this.headLen > 0) {
        b = Buffer.concat([...this.head, buf.subarray(from, nl)]);
        f = 0;
        t = b.length;
      }
      if (t > f && b[t - 1] === CR) {
        len = 2;
        t--;
      }
      this.sink.lineStart(this.lineStartPos, this.lf, b, f, t);
    } else {
      let t = nl;
      if (t > from && buf[t - 1] === CR) {
        len = 2;
        t--;
        if (this.heldCr) this.sink.lineMore(CR_BUF, 0, 1);
      } else if (t === from && this.heldCr) {
        len = 2; // the held CR was the line end's
      } else if (this.heldCr) {
        this.sink.lineMore(CR_BUF, 0, 1);
      }
      if (t > from) this.sink.lineMore(buf, from, t);
    }
    this.reset();
    this.lf++;
    this.lineStartPos = this.pos;
    this.sink.lineEnd(len, this.pos);
  }

  private reset(): void {
    if (this.headLen > 0) this.head = [];
    this.headLen = 0;
    this.headSent = false;
    this.heldCr = false;
    this.inLine = false;
  }
}

const CR_BUF = Buffer.from([CR]);

function concat(parts: Buffer[], len: number): Buffer {
  if (parts.length === 1) return parts[0]!;
  return Buffer.concat(parts, len);
}
