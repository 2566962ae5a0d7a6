/**
 * A bare POP3 client for tests: it sends exactly the bytes it is given and
 * reads replies line by line, so tests can speak bad POP3 on purpose
 * (pipelined garbage, overlong lines, half a command, then vanish).
 * Not used by the server.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export class WireClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private closedFlag = false;
  readonly closed: Promise<void>;

  private constructor(private socket: Socket) {
    this.closed = new Promise((resolve) => {
      const done = () => {
        this.closedFlag = true;
        this.wake();
        resolve();
      };
      socket.once('close', done);
    });
    this.listen(socket);
  }

  static async connect(port: number, opts: { tls?: { ca: string } } = {}): Promise<WireClient> {
    const socket = opts.tls
      ? tlsConnect({ host: '127.0.0.1', port, ca: opts.tls.ca, servername: 'localhost' })
      : netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    socket.on('error', () => {});
    return new WireClient(socket);
  }

  private listen(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next line (without CRLF); rejects if the connection closes first or after `timeoutMs`. */
  async line(timeoutMs = 15_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i !== -1) {
        const line = this.buf.subarray(0, i).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return line;
      }
      if (this.closedFlag) throw new Error(`connection closed (pending: ${JSON.stringify(this.buf.toString('latin1'))})`);
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no line within ${timeoutMs} ms (pending: ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Send a command line, return the first reply line. */
  async cmd(line: string): Promise<string> {
    this.send(`${line}\r\n`);
    return this.line();
  }

  /** The body of a multi-line reply (after its +OK line): lines un-dot-stuffed, up to ".". */
  async body(): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l === '.') return out;
      out.push(l.startsWith('.') ? l.slice(1) : l);
    }
  }

  /** Raw bytes of a multi-line body, terminator included (to count octets on the wire). */
  async rawBody(timeoutMs = 30_000): Promise<Buffer> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const end = this.buf.indexOf('\r\n.\r\n');
      const atStart = this.buf.subarray(0, 3).equals(Buffer.from('.\r\n'));
      if (atStart || end !== -1) {
        const n = atStart ? 3 : end + 5;
        const raw = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return raw;
      }
      if (this.closedFlag || Date.now() > until) throw new Error('multi-line reply did not end');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** After "+OK" to STLS: wrap the socket in TLS. */
  async startTls(ca: string): Promise<void> {
    const raw = this.socket;
    raw.removeAllListeners('data');
    const secured = tlsConnect({ socket: raw, ca, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secured.once('secureConnect', () => resolve());
      secured.once('error', reject);
    });
    secured.on('error', () => {});
    this.socket = secured;
    this.listen(secured);
  }

  /** Close abruptly (RST when possible): a client that vanishes. */
  destroy(): void {
    // A TLS socket cannot send a RST (its handle is not a TCP handle).
    if ('encrypted' in this.socket) this.socket.destroy();
    else this.socket.resetAndDestroy();
  }

  end(): void {
    this.socket.end();
  }
}

/** A small message with lines that need dot-stuffing, CRLF line ends. */
export function sampleMessage(i: number, to = 'user@example.org', extraBody = ''): string {
  return (
    `From: Sender <sender@example.com>\r\nTo: ${to}\r\nSubject: message ${i}\r\n` +
    `Message-ID: <m${i}.${Date.now()}@example.com>\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\n` +
    `line one of message ${i}\r\n.leading dot\r\n..two dots\r\n.\r\n${extraBody}last line\r\n`
  );
}

/**
 * Run a Python 3 script (for poplib) and parse the JSON it prints last. Async, so
 * the server in this process keeps running while Python talks to it.
 */
export async function runPython(script: string, timeoutMs = 30_000): Promise<unknown> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', script], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`python failed: ${err.message}\n${stderr}`));
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`python printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}
