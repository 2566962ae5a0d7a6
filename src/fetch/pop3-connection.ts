/**
 * The wire under the POP3 client: one socket (plain, upgraded by STLS, or TLS
 * from the start), commands sent one at a time, status lines and dot-ended
 * bodies read back through the pure parsers of pop3-response.ts.
 *
 * Rules it keeps:
 * - One command in flight; the next waits until the previous answer, a body
 *   included, has been read to its end.
 * - Bodies flow to a sink with backpressure: when the sink says "enough", the
 *   socket is paused, and so is the inactivity timer (a slow consumer is not a
 *   slow server).
 * - Any failure (close, error, timeout, garbage) fails the command in flight
 *   and every later one with the same FetchError; a body never looks complete
 *   unless its terminating dot arrived.
 * - After STLS, bytes the server sent before the handshake are refused (a
 *   classic STARTTLS injection).
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { FetchError, toFetchError } from './errors.js';
import { DotDecoder, parseStatusLine, takeLine, type StatusLine } from './pop3-response.js';

export type TlsMode = 'none' | 'starttls' | 'implicit';

export interface Pop3ConnectOptions {
  host: string;
  port: number;
  tls: TlsMode;
  /** Extra TLS options: ca for a private CA, rejectUnauthorized: false for a self-signed provider. */
  tlsOptions?: tls.ConnectionOptions;
  /** Milliseconds without a byte from the server while we wait for one (default 60 s). */
  timeoutMs?: number;
  /** Milliseconds for TCP connect + TLS + greeting (default 30 s). */
  connectTimeoutMs?: number;
  logger?: Logger;
}

/** Where the bytes of a multi-line answer go. */
export interface BodySink {
  /** The status line; on -ERR no body follows and the command ends. */
  onStatus(s: StatusLine): void;
  /** Unstuffed bytes; return false to pause the socket until resume(). */
  onData(b: Buffer): boolean;
  onEnd(): void;
  onError(e: FetchError): void;
}

type Waiter =
  | { kind: 'status'; resolve: (s: StatusLine) => void; reject: (e: FetchError) => void }
  | { kind: 'multi'; phase: 'status' | 'body'; decoder: DotDecoder; sink: BodySink; done: () => void; reject: (e: FetchError) => void };

const EMPTY = Buffer.alloc(0);

export class Pop3Connection {
  private buf: Buffer = EMPTY;
  private waiter: Waiter | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private failure: FetchError | null = null;
  private closed = false;
  private paused = false;
  private readonly timeoutMs: number;

  private constructor(
    private socket: net.Socket,
    private readonly opts: Pop3ConnectOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.attach(socket);
  }

  /** Opens the socket (TLS handshake included for implicit TLS) and reads the greeting. */
  static async open(opts: Pop3ConnectOptions): Promise<{ conn: Pop3Connection; greeting: StatusLine }> {
    const connectTimeout = opts.connectTimeoutMs ?? 30_000;
    const conn = new Pop3Connection(await openSocket(opts, connectTimeout), opts);
    try {
      const greeting = await conn.withDeadline(conn.readStatus(), connectTimeout, 'greeting');
      return { conn, greeting };
    } catch (err) {
      conn.destroy();
      throw toFetchError(err, 'connect');
    }
  }

  get secure(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  /** Sends a one-line command and reads its status line (logAs hides secrets from logs). */
  command(cmd: string, logAs = cmd): Promise<StatusLine> {
    return this.enqueue(
      () =>
        new Promise<StatusLine>((resolve, reject) => {
          this.opts.logger?.trace({ cmd: logAs }, 'pop3 client command');
          this.waiter = { kind: 'status', resolve, reject };
          this.write(cmd);
        }),
    );
  }

  /** Sends a command whose +OK is followed by a dot-ended body; resolves when the answer is complete. */
  multiline(cmd: string, sink: BodySink): Promise<void> {
    return this.enqueue(
      () =>
        new Promise<void>((resolve, reject) => {
          this.opts.logger?.trace({ cmd }, 'pop3 client command');
          this.waiter = {
            kind: 'multi',
            phase: 'status',
            decoder: new DotDecoder(),
            sink,
            done: resolve,
            reject: (e) => {
              sink.onError(e);
              reject(e);
            },
          };
          this.write(cmd);
        }),
    );
  }

  /** After "+OK" to STLS: the TLS handshake on the same socket. */
  async upgradeTls(): Promise<void> {
    if (this.buf.length > 0) throw new FetchError('tls', 'server sent data before the TLS handshake (refused: possible injection)', false);
    const plain = this.socket;
    this.detach(plain);
    const secure = tls.connect({ socket: plain, servername: servername(this.opts.host), ...this.opts.tlsOptions });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(toFetchError(err, 'tls'));
      secure.once('error', onError);
      secure.once('secureConnect', () => {
        secure.off('error', onError);
        resolve();
      });
    });
    this.socket = secure;
    this.attach(secure);
  }

  /** The consumer of a paused body wants more. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.armTimer();
    this.socket.resume();
  }

  /** Fails the command in flight and the connection (e.g. a reader gave up mid-body). */
  fail(err: FetchError): void {
    if (!this.failure) this.failure = err;
    const w = this.waiter;
    this.waiter = null;
    this.socket.setTimeout(0);
    w?.reject(err);
    this.socket.destroy();
  }

  /** Half-closes after QUIT. */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  // ------------------------------------------------------------ internals

  /** A status line not tied to a command (the greeting). */
  private readStatus(): Promise<StatusLine> {
    return this.enqueue(
      () =>
        new Promise<StatusLine>((resolve, reject) => {
          this.waiter = { kind: 'status', resolve, reject };
          this.armTimer();
          this.pump();
        }),
    );
  }

  private enqueue<T>(run: () => Promise<T>): Promise<T> {
    const next = this.chain.then(() => {
      if (this.failure) throw this.failure;
      if (this.closed) throw new FetchError('closed', 'connection already closed');
      return run();
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  private write(line: string): void {
    this.armTimer();
    this.socket.write(line + '\r\n');
    this.pump();
  }

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('timeout', this.onTimeout);
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
    socket.off('timeout', this.onTimeout);
    socket.setTimeout(0);
  }

  private readonly onData = (chunk: Buffer): void => {
    const w = this.waiter;
    if (w && w.kind === 'multi' && w.phase === 'body' && this.buf.length === 0) {
      this.feedBody(w, chunk);
      this.pump();
      return;
    }
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.pump();
  };

  private readonly onError = (err: Error): void => {
    this.fail(toFetchError(err, 'closed'));
  };

  private readonly onClose = (): void => {
    this.closed = true;
    if (this.waiter) {
      const during = this.waiter.kind === 'multi' && this.waiter.phase === 'body' ? ' in the middle of a response' : '';
      this.fail(new FetchError('closed', `the server closed the connection${during}`));
    }
  };

  private readonly onTimeout = (): void => {
    if (!this.waiter || this.paused) return;
    this.fail(new FetchError('timeout', `no answer from the server for ${Math.round(this.timeoutMs / 1000)} s`));
  };

  private armTimer(): void {
    this.socket.setTimeout(this.timeoutMs);
  }

  /** Feeds body bytes to a multi-line waiter; finishes it at the terminator. */
  private feedBody(w: Extract<Waiter, { kind: 'multi' }>, chunk: Buffer): void {
    const r = w.decoder.push(chunk);
    let more = true;
    for (const d of r.data) more = w.sink.onData(d) && more;
    if (this.waiter !== w) return; // the sink failed the connection
    if (r.done) {
      this.waiter = null;
      this.socket.setTimeout(0);
      this.buf = r.rest.length > 0 ? Buffer.from(r.rest) : EMPTY;
      w.sink.onEnd();
      w.done();
    } else if (!more) {
      // Backpressure: the consumer calls resume() when it wants more.
      this.paused = true;
      this.socket.setTimeout(0);
      this.socket.pause();
    }
  }

  private pump(): void {
    while (this.waiter && this.buf.length > 0) {
      const w = this.waiter;
      if (w.kind === 'multi' && w.phase === 'body') {
        const chunk = this.buf;
        this.buf = EMPTY;
        this.feedBody(w, chunk);
        continue;
      }
      const t = takeLine(this.buf);
      if (t.kind === 'needMore') return;
      if (t.kind === 'tooLong') {
        this.fail(new FetchError('protocol', 'the server sent an over-long status line'));
        return;
      }
      this.buf = t.rest.length > 0 ? t.rest : EMPTY;
      const status = parseStatusLine(t.line);
      if (!status) {
        this.fail(new FetchError('protocol', `unexpected answer from the server: ${t.line.slice(0, 200)}`));
        return;
      }
      if (w.kind === 'status') {
        this.waiter = null;
        this.socket.setTimeout(0);
        w.resolve(status);
      } else if (!status.ok) {
        this.waiter = null;
        this.socket.setTimeout(0);
        w.sink.onStatus(status);
        w.done();
      } else {
        w.phase = 'body';
        w.sink.onStatus(status);
      }
    }
  }

  private async withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const err = new FetchError('timeout', `no ${what} from ${this.opts.host}:${this.opts.port} within ${Math.round(ms / 1000)} s`);
            this.fail(err);
            reject(err);
          }, ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function servername(host: string): string | undefined {
  // SNI takes names only (RFC 6066 3).
  return net.isIP(host) ? undefined : host;
}

function openSocket(opts: Pop3ConnectOptions, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket =
      opts.tls === 'implicit'
        ? tls.connect({ host: opts.host, port: opts.port, servername: servername(opts.host), ...opts.tlsOptions })
        : net.connect({ host: opts.host, port: opts.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new FetchError('timeout', `could not connect to ${opts.host}:${opts.port} within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    const ready = opts.tls === 'implicit' ? 'secureConnect' : 'connect';
    socket.once(ready, () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      const fe = toFetchError(err, opts.tls === 'implicit' ? 'tls' : 'connect');
      reject(new FetchError(fe.code, `${opts.host}:${opts.port}: ${fe.message}`, fe.temporary, { cause: err }));
    });
  });
}
