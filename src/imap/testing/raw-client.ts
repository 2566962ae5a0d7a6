/**
 * A byte-level IMAP client for tests: send exact bytes (split however the test
 * likes), read response lines, wait for a tagged completion. Nothing clever:
 * tests of the server must see what went over the wire.
 */
import net from 'node:net';
import tls from 'node:tls';

export class RawImap {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private closed = false;
  /** Every line received, in order (literal bytes inline). */
  readonly lines: string[] = [];
  private readPos = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.split();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number, opts: { tls?: boolean; ca?: string } = {}): Promise<RawImap> {
    const socket = opts.tls
      ? tls.connect({ host: '127.0.0.1', port, ca: opts.ca, checkServerIdentity: () => undefined })
      : net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const c = new RawImap(socket);
    await c.line(); // greeting
    return c;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private split(): void {
    for (;;) {
      // One logical line: text up to CRLF, with any literals' bytes inline.
      let pos = 0;
      let complete = false;
      for (;;) {
        const lf = this.buf.indexOf(0x0a, pos);
        if (lf < 0) break;
        const m = /\{(\d+)\}\r\n$/.exec(this.buf.toString('latin1', Math.max(pos, lf - 24), lf + 1));
        if (!m) {
          pos = lf + 1;
          complete = true;
          break;
        }
        const need = lf + 1 + Number(m[1]);
        if (this.buf.length < need) break;
        pos = need;
      }
      if (!complete) break;
      const line = this.buf.subarray(0, pos).toString('utf8');
      this.buf = this.buf.subarray(pos);
      this.lines.push(line.replace(/\r\n$/, ''));
    }
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async waitData(timeoutMs: number): Promise<void> {
    if (this.closed) throw new Error('connection closed');
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timeout; got so far:\n${this.lines.slice(this.readPos).join('\n')}`)), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** The next unread line. */
  async line(timeoutMs = 5000): Promise<string> {
    while (this.readPos >= this.lines.length) await this.waitData(timeoutMs);
    return this.lines[this.readPos++]!;
  }

  /** Lines up to and including the tagged completion for `tag`. */
  async until(tag: string, timeoutMs = 5000): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.line(timeoutMs);
      out.push(l);
      if (l.startsWith(tag + ' ')) return out;
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends a command and returns its responses (last one tagged). */
  async cmd(tag: string, text: string, timeoutMs = 5000): Promise<string[]> {
    this.write(`${tag} ${text}\r\n`);
    return this.until(tag, timeoutMs);
  }

  /** Waits for an untagged line matching re (within timeoutMs). */
  async waitFor(re: RegExp, timeoutMs = 5000): Promise<string> {
    for (;;) {
      const l = await this.line(timeoutMs);
      if (re.test(l)) return l;
    }
  }

  /** Unread lines so far, without waiting. */
  drain(): string[] {
    const out = this.lines.slice(this.readPos);
    this.readPos = this.lines.length;
    return out;
  }

  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}
