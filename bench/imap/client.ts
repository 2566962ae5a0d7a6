/**
 * A lean IMAP client for load generation: one command at a time, literals
 * skipped by count (never parsed), untagged lines kept only when asked for.
 * The same client drives mailroom and Dovecot, so neither gets a friendlier one.
 */
import net from 'node:net';

export class BenchClient {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiter: (() => void) | null = null;
  private closed = false;
  private tagN = 0;
  /** Bytes received (for MB/s). */
  bytesIn = 0;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.buffered += d.length;
      this.bytesIn += d.length;
      const w = this.waiter;
      this.waiter = null;
      w?.();
    });
    const end = () => {
      this.closed = true;
      const w = this.waiter;
      this.waiter = null;
      w?.();
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<BenchClient> {
    const socket = net.connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new BenchClient(socket);
    await c.readLine(); // greeting
    return c;
  }

  private async more(): Promise<void> {
    if (this.closed) throw new Error('connection closed');
    await new Promise<void>((r) => (this.waiter = r));
  }

  private flat(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private consume(n: number): void {
    const b = this.flat();
    this.chunks = n >= b.length ? [] : [b.subarray(n)];
    this.buffered -= n;
  }

  /** One response line; a trailing literal is skipped (its byte count is known). */
  async readLine(): Promise<string> {
    for (;;) {
      const b = this.flat();
      const lf = b.indexOf(0x0a);
      if (lf >= 0) {
        const head = b.toString('latin1', 0, lf + 1);
        const m = /\{(\d+)\}\r\n$/.exec(head);
        if (!m) {
          this.consume(lf + 1);
          return head.slice(0, -2);
        }
        // Skip the literal, then the rest of the line continues: read it as part of this line.
        const need = lf + 1 + Number(m[1]);
        while (this.buffered < need) await this.more();
        this.consume(need);
        const rest = await this.readLine();
        return head.slice(0, -2) + '{…}' + rest;
      }
      await this.more();
    }
  }

  /** Sends a command; returns its untagged lines (when collect) and the tagged status line. */
  async cmd(text: string, collect = false): Promise<{ status: string; lines: string[] }> {
    const tag = `t${++this.tagN}`;
    this.socket.write(`${tag} ${text}\r\n`);
    const lines: string[] = [];
    for (;;) {
      const l = await this.readLine();
      if (l.startsWith(tag + ' ')) {
        const status = l.slice(tag.length + 1);
        if (!status.startsWith('OK')) throw new Error(`${text.slice(0, 60)} → ${status}`);
        return { status, lines };
      }
      if (collect) lines.push(l);
    }
  }

  /** APPEND with a synchronizing literal (both servers support it). */
  async append(mailbox: string, message: Buffer, flags = ''): Promise<string> {
    const tag = `t${++this.tagN}`;
    this.socket.write(`${tag} APPEND ${mailbox}${flags ? ` (${flags})` : ''} {${message.length}}\r\n`);
    const cont = await this.readLine();
    if (!cont.startsWith('+')) throw new Error(`APPEND refused: ${cont}`);
    this.socket.write(message);
    this.socket.write('\r\n');
    for (;;) {
      const l = await this.readLine();
      if (l.startsWith(tag + ' ')) {
        if (!l.startsWith(`${tag} OK`)) throw new Error(`APPEND → ${l}`);
        return l;
      }
    }
  }

  /** IDLE for a while, then DONE. */
  async idle(ms: number): Promise<void> {
    const tag = `t${++this.tagN}`;
    this.socket.write(`${tag} IDLE\r\n`);
    for (;;) {
      const l = await this.readLine();
      if (l.startsWith('+')) break;
    }
    await new Promise((r) => setTimeout(r, ms));
    this.socket.write('DONE\r\n');
    for (;;) {
      const l = await this.readLine();
      if (l.startsWith(tag + ' ')) return;
    }
  }

  /** Starts IDLE and leaves it running (for the idle-connections memory test). */
  async startIdle(): Promise<void> {
    this.socket.write(`t${++this.tagN} IDLE\r\n`);
    for (;;) {
      const l = await this.readLine();
      if (l.startsWith('+')) return;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
