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

export interface LineSink {
  /**
   * A line begins at `start`, with `lf` LFs before it. `head` is its content
   * (without the line end) when the line is shorter than HEAD_BYTES, else at
   * least the first HEAD_BYTES - 1 bytes of it; `lineMore` brings the rest.
   */
  lineStart(start: number, lf: number, head: Buffer): void;
  lineMore(data: Buffer): void;
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
    while (i < chunk.length) {
      this.inLine = true;
      const nl = chunk.indexOf(LF, i);
      if (nl === -1) {
        this.content(chunk.subarray(i));
        this.pos += chunk.length - i;
        return;
      }
      this.pos += nl + 1 - i;
      this.endLine(chunk.subarray(i, nl));
      i = nl + 1;
    }
  }

  /** End of input: hands over a last line that has no line end. */
  finish(): void {
    if (!this.inLine) return;
    if (!this.headSent) {
      this.sink.lineStart(this.lineStartPos, this.lf, concat(this.head, this.headLen));
    } else if (this.heldCr) {
      this.sink.lineMore(CR_BUF);
    }
    this.reset();
    this.sink.lineEnd(0, this.pos);
  }

  /** Content bytes of the current line, no LF among them. */
  private content(data: Buffer): void {
    if (data.length === 0) return;
    if (!this.headSent) {
      this.head.push(data);
      this.headLen += data.length;
      if (this.headLen < HEAD_BYTES) return;
      const all = concat(this.head, this.headLen);
      this.head = [];
      this.headLen = 0;
      this.headSent = true;
      const keepCr = all[all.length - 1] === CR;
      this.sink.lineStart(this.lineStartPos, this.lf, keepCr ? all.subarray(0, all.length - 1) : all);
      this.heldCr = keepCr;
      return;
    }
    let out = data;
    if (this.heldCr) {
      out = Buffer.concat([CR_BUF, data]);
      this.heldCr = false;
    }
    if (out[out.length - 1] === CR) {
      this.heldCr = true;
      out = out.subarray(0, out.length - 1);
    }
    if (out.length > 0) this.sink.lineMore(out);
  }

  /** The LF of the current line was found; `last` is the content before it. */
  private endLine(last: Buffer): void {
    let nl: 1 | 2 = 1;
    if (!this.headSent) {
      let all = this.headLen === 0 ? last : Buffer.concat([...this.head, last]);
      if (all.length > 0 && all[all.length - 1] === CR) {
        nl = 2;
        all = all.subarray(0, all.length - 1);
      }
      this.sink.lineStart(this.lineStartPos, this.lf, all);
    } else {
      let out = last;
      if (this.heldCr) out = Buffer.concat([CR_BUF, last]);
      if (out.length > 0 && out[out.length - 1] === CR) {
        nl = 2;
        out = out.subarray(0, out.length - 1);
      }
      if (out.length > 0) this.sink.lineMore(out);
    }
    this.reset();
    this.lf++;
    this.lineStartPos = this.pos;
    this.sink.lineEnd(nl, this.pos);
  }

  private reset(): void {
    this.head = [];
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
