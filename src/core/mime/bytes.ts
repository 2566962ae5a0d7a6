/** A growing byte buffer: appending copies bytes, no object per append. */
export class ByteCollector {
  private buf: Buffer = EMPTY;
  length = 0;

  /** `max`: the most this collector will be asked to hold, so doubling never overshoots it. */
  constructor(private readonly max = Infinity) {}

  push(src: Buffer, from: number, to: number): void {
    const n = to - from;
    if (this.length + n > this.buf.length) {
      const need = this.length + n;
      const next = Buffer.allocUnsafe(Math.max(need, Math.min(Math.max(256, need * 2), this.max)));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    src.copy(this.buf, this.length, from, to);
    this.length += n;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

const EMPTY = Buffer.alloc(0);
