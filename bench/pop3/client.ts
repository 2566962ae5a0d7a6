/**
 * A lean POP3 retrieval client for benchmarks: log in, STAT, RETR every message
 * one after the other (as fetchmail and Outlook do), QUIT. It counts octets and
 * finds the end of each reply with one indexOf per chunk, so the client costs
 * little next to the server it measures; both servers get the same client.
 */
import { connect, type Socket } from 'node:net';

export interface RetrieveResult {
  messages: number;
  /** Octets of the multi-line bodies as received (dot-stuffing included). */
  bytes: number;
  ms: number;
  /** From connect to the answer to PASS (the password check is part of it). */
  loginMs: number;
}

const END = Buffer.from('\r\n.\r\n');

class Conn {
  private chunks: Buffer[] = [];
  private size = 0;
  private wake: (() => void) | null = null;
  private failed: Error | null = null;

  constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.size += c.length;
      this.wake?.();
    });
    const fail = (err: Error) => {
      this.failed = err;
      this.wake?.();
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  private async more(): Promise<void> {
    if (this.failed) throw this.failed;
    await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = null;
    if (this.failed && this.size === 0) throw this.failed;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.size = rest.length;
    return out;
  }

  async line(): Promise<string> {
    for (;;) {
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
      this.chunks = all.length ? [all] : [];
      const i = all.indexOf('\r\n');
      if (i !== -1) return this.take(i + 2).subarray(0, i).toString('latin1');
      await this.more();
    }
  }

  /** The body of a multi-line reply, terminator included; returns its length. */
  async multiline(): Promise<number> {
    let from = 0;
    for (;;) {
      // Search only what is new (plus 4 bytes that may start the terminator).
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
      this.chunks = all.length ? [all] : [];
      if (all.length >= 3 && from === 0 && all[0] === 46 && all[1] === 13 && all[2] === 10) return this.take(3).length;
      const i = all.indexOf(END, Math.max(0, from - 4));
      if (i !== -1) return this.take(i + END.length).length;
      from = all.length;
      await this.more();
    }
  }

  async cmd(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    const reply = await this.line();
    if (!reply.startsWith('+OK')) throw new Error(`${line.split(' ')[0]}: ${reply}`);
    return reply;
  }
}

/** One client: log in and retrieve the whole maildrop. Deletes nothing. */
export async function retrieveAll(port: number, user: string, password: string, host = '127.0.0.1'): Promise<RetrieveResult> {
  const t0 = performance.now();
  const socket = connect({ host, port });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const c = new Conn(socket);
  try {
    const greeting = await c.line();
    if (!greeting.startsWith('+OK')) throw new Error(`greeting: ${greeting}`);
    await c.cmd(`USER ${user}`);
    await c.cmd(`PASS ${password}`);
    const loginMs = performance.now() - t0;
    const count = Number((await c.cmd('STAT')).split(' ')[1]);
    let bytes = 0;
    for (let i = 1; i <= count; i++) {
      await c.cmd(`RETR ${i}`);
      bytes += await c.multiline();
    }
    await c.cmd('QUIT');
    return { messages: count, bytes, ms: performance.now() - t0, loginMs };
  } finally {
    socket.destroy();
  }
}
