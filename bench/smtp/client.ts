/**
 * The bench's SMTP client: N connections in parallel, each sending its share
 * of the messages one after another on one connection, with PIPELINING
 * (MAIL, RCPT and DATA in one write, RFC 2920). The same client drives both
 * servers, so its own cost is the same on both sides.
 */
import net from 'node:net';

export interface SendPlan {
  port: number;
  clients: number;
  messages: number;
  /** Recipient of message i. */
  rcpt(i: number): string;
  /** Message i, CRLF line ends, dot-stuffed, without the final ".". */
  body(i: number): Buffer;
}

export interface SendResult {
  /** From the first connect to the last 250 after DATA. */
  elapsedMs: number;
  accepted: number;
  firstByteAt: number;
}

class Conn {
  private buf = '';
  private waiting: ((line: string) => void) | null = null;
  private lines: string[] = [];
  private error: Error | null = null;

  constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      let i: number;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        if (line[3] === '-') continue; // continuation of a multi-line reply
        this.lines.push(line);
      }
      this.flush();
    });
    socket.on('error', (err) => {
      this.error = err;
      this.flush();
    });
    socket.on('close', () => {
      this.error ??= new Error('connection closed');
      this.flush();
    });
  }

  private flush() {
    if (!this.waiting) return;
    if (this.lines.length) {
      const w = this.waiting;
      this.waiting = null;
      w(this.lines.shift()!);
    } else if (this.error) {
      const w = this.waiting;
      this.waiting = null;
      w(`000 ${this.error.message}`);
    }
  }

  reply(): Promise<string> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.flush();
    });
  }

  write(data: string | Buffer) {
    this.socket.write(data);
  }

  close() {
    this.socket.end();
  }
}

async function expect(c: Conn, code: string, what: string): Promise<void> {
  const line = await c.reply();
  if (!line.startsWith(code)) throw new Error(`${what}: expected ${code}, got "${line}"`);
}

function connect(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new Conn(s)));
    s.once('error', reject);
  });
}

export async function sendAll(plan: SendPlan): Promise<SendResult> {
  let next = 0;
  let accepted = 0;
  const started = performance.now();
  const worker = async (w: number) => {
    const c = await connect(plan.port);
    await expect(c, '220', 'greeting');
    c.write(`EHLO bench${w}.test\r\n`);
    await expect(c, '250', 'EHLO');
    for (;;) {
      const i = next++;
      if (i >= plan.messages) break;
      c.write(`MAIL FROM:<bench${w}@sender.test>\r\nRCPT TO:<${plan.rcpt(i)}>\r\nDATA\r\n`);
      await expect(c, '250', 'MAIL');
      await expect(c, '250', 'RCPT');
      await expect(c, '354', 'DATA');
      c.write(Buffer.concat([plan.body(i), Buffer.from('.\r\n')]));
      await expect(c, '250', 'end of DATA');
      accepted++;
    }
    c.write('QUIT\r\n');
    await c.reply();
    c.close();
  };
  await Promise.all(Array.from({ length: plan.clients }, (_, w) => worker(w)));
  return { elapsedMs: performance.now() - started, accepted, firstByteAt: started };
}

/** A deterministic message of about `size` bytes (CRLF, no line starting with "."). */
export function benchMessage(i: number, to: string, size: number): Buffer {
  const head = [
    'From: Bench Sender <bench@sender.test>',
    `To: <${to}>`,
    `Subject: bench message ${i}`,
    `Message-ID: <bench-${i}@sender.test>`,
    'Date: Mon, 01 Jan 2024 00:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    '',
  ].join('\r\n');
  const line = `Message ${i}: the quick brown fox jumps over the lazy dog, 0123456789.\r\n`;
  let body = '';
  while (head.length + body.length + line.length <= size) body += line;
  return Buffer.from(head + body);
}
