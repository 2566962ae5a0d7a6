/**
 * Helpers for the SMTP end-to-end tests: a raw SMTP client that speaks bytes
 * exactly as written (for malformed input), and runners for the real clients
 * (swaks, python smtplib).
 */
import { execFile, spawnSync } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';

export interface SmtpReply {
  code: number;
  /** Text of every line, without the code. */
  lines: string[];
  /** The whole reply as received. */
  raw: string;
}

/** A bare-bones SMTP client over a real socket; read() returns the next complete reply. */
export class RawSmtp {
  private buf = '';
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(private socket: net.Socket | tls.TLSSocket) {
    this.attach(socket);
  }

  private attach(socket: net.Socket | tls.TLSSocket) {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static async connect(port: number, opts: { implicitTls?: boolean; ca?: string } = {}): Promise<RawSmtp> {
    const socket = opts.implicitTls
      ? tls.connect({ host: '127.0.0.1', port, ca: opts.ca, servername: 'localhost' })
      : net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((res, rej) => {
      socket.once(opts.implicitTls ? 'secureConnect' : 'connect', () => res());
      socket.once('error', rej);
    });
    return new RawSmtp(socket);
  }

  /** The next reply (multi-line aware); rejects if the connection closes first or after `timeoutMs`. */
  async read(timeoutMs = 10_000): Promise<SmtpReply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:(\d{3})-[^\r\n]*\r\n)*(\d{3})(?: [^\r\n]*)?\r\n/.exec(this.buf);
      if (m) {
        const raw = m[0];
        this.buf = this.buf.slice(raw.length);
        const lines = raw
          .split('\r\n')
          .filter(Boolean)
          .map((l) => l.slice(4));
        return { code: Number(m[2]), lines, raw };
      }
      if (this.closed) throw new Error(`connection closed; unparsed: ${JSON.stringify(this.buf)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply in time; buffer: ${JSON.stringify(this.buf)}`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }

  async cmd(line: string): Promise<SmtpReply> {
    this.write(`${line}\r\n`);
    return this.read();
  }

  async starttls(ca: string): Promise<void> {
    const r = await this.cmd('STARTTLS');
    if (r.code !== 220) throw new Error(`STARTTLS refused: ${r.raw}`);
    const plain = this.socket;
    plain.removeAllListeners('data');
    const secure = tls.connect({ socket: plain, ca, servername: 'localhost' });
    await new Promise<void>((res, rej) => {
      secure.once('secureConnect', () => res());
      secure.once('error', rej);
    });
    this.socket = secure;
    this.attach(secure);
  }

  /** Wait until the server closes the connection. */
  async closedByServer(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  end(): void {
    this.socket.destroy();
  }
}

export function have(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
}

/** Skip only when a program is missing and we are not in CI (the repository's rule). */
export function skipUnless(program: string): string | false {
  if (have(program)) return false;
  if (process.env.CI === 'true') throw new Error(`${program} is required under CI`);
  return `${program} is not installed (CI=true would fail instead of skipping)`;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program without blocking the event loop (the server runs in this process). */
export function run(file: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: opts.timeoutMs ?? 30_000, env: opts.env ?? process.env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** swaks against 127.0.0.1:port; returns its transcript. */
export function swaks(port: number, args: string[]): Promise<RunResult> {
  return run('swaks', ['--server', `127.0.0.1:${port}`, '--helo', 'client.test', '--timeout', '15', ...args]);
}

/** A small python program with smtplib; `script` gets `port` and `ca` variables. */
export function python(script: string, vars: Record<string, string | number>): Promise<RunResult> {
  const prelude = Object.entries(vars)
    .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
    .join('\n');
  return run('python3', ['-c', `${prelude}\n${script}`]);
}

export function message(opts: { from?: string; to?: string; subject?: string; body?: string; extraHeaders?: string[] } = {}): string {
  const headers = [
    `From: ${opts.from ?? 'sender@remote.test'}`,
    `To: ${opts.to ?? 'someone@example.test'}`,
    `Subject: ${opts.subject ?? 'test'}`,
    ...(opts.extraHeaders ?? []),
  ];
  return `${headers.join('\r\n')}\r\n\r\n${opts.body ?? 'Hello.\r\n'}`;
}
