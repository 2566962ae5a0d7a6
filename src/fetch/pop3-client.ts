/**
 * A small POP3 client (RFC 1939) for fetching from outside mailboxes: plain,
 * STLS (RFC 2595) and implicit TLS, CAPA (RFC 2449), APOP, USER/PASS and
 * AUTH PLAIN (RFC 5034), UIDL, LIST, streaming RETR with dot-unstuffing, DELE,
 * QUIT.
 *
 * Rules it keeps:
 * - One command at a time; a command waits until the previous response (a RETR
 *   body included) has been read to its end.
 * - RETR is a stream with backpressure: when the consumer is slow the socket is
 *   paused (and the inactivity timer with it), so a 50 MB message is never held
 *   whole in memory.
 * - A connection that closes or stalls mid-response fails that response with a
 *   FetchError ('closed' / 'timeout'); a truncated message never looks complete.
 * - STLS never downgrades: if the server refuses it, the connection fails.
 *   Bytes the server sent before the TLS handshake are refused (a classic
 *   STARTTLS injection).
 * - Deletions (DELE) take effect only when QUIT is answered +OK (RFC 1939 6):
 *   dropping the connection instead leaves the maildrop untouched.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { FetchError, toFetchError } from './errors.js';
import {
  DotDecoder,
  apopTimestamp,
  listingLines,
  parseListLine,
  parseStatusLine,
  parseUidlLine,
  takeLine,
  type StatusLine,
} from './pop3-response.js';

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

export type LoginMethod = 'apop' | 'user' | 'sasl-plain';

export interface LoginOptions {
  /**
   * 'auto' (default): APOP when the server offers a timestamp and the
   * connection is not encrypted (so the password never crosses in clear),
   * falling back to USER/PASS if APOP is refused; 'never'; 'require'.
   */
  apop?: 'auto' | 'never' | 'require';
}

/** Listing entry: message number in this session, UIDL and size. */
export interface Pop3Message {
  n: number;
  uid: string;
  size: number;
}

type Waiter =
  | { kind: 'status'; resolve: (s: StatusLine) => void; reject: (e: Error) => void }
  | {
      kind: 'multi';
      phase: 'status' | 'body';
      decoder: DotDecoder;
      onStatus: (s: StatusLine) => void;
      onData: (b: Buffer) => boolean;
      onEnd: () => void;
      reject: (e: Error) => void;
    };

const EMPTY = Buffer.alloc(0);
/** Bound for listings (UIDL/LIST/CAPA): 1M messages of 70-octet UIDs. */
const MAX_LISTING = 80 * 1024 * 1024;

export class Pop3Client {
  greeting: StatusLine = { ok: true, text: '', code: null };
  capabilities: Map<string, string[]> | null = null;
  private socket: net.Socket;
  private buf: Buffer = EMPTY;
  private waiter: Waiter | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private failure: FetchError | null = null;
  private closed = false;
  private paused = false;
  private readonly timeoutMs: number;

  private constructor(
    socket: net.Socket,
    private readonly opts: Pop3ConnectOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.socket = socket;
    this.attach(socket);
  }

  /** Connects, reads the greeting, upgrades with STLS when asked, reads CAPA. */
  static async connect(opts: Pop3ConnectOptions): Promise<Pop3Client> {
    const connectTimeout = opts.connectTimeoutMs ?? 30_000;
    const socket = await openSocket(opts, connectTimeout);
    const client = new Pop3Client(socket, opts);
    try {
      const greeting = await client.withDeadline(client.readStatus(), connectTimeout, 'greeting');
      if (!greeting.ok) throw new FetchError('connect', `server refused the connection: ${greeting.text}`);
      client.greeting = greeting;
      await client.readCapabilities();
      if (opts.tls === 'starttls') {
        await client.startTls();
        await client.readCapabilities();
      }
      return client;
    } catch (err) {
      client.destroy();
      throw toFetchError(err, 'connect');
    }
  }

  get secure(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  /** True when CAPA listed the capability (case-insensitive). */
  has(capability: string): boolean {
    return this.capabilities?.has(capability.toUpperCase()) ?? false;
  }

  async login(user: string, password: string, opts: LoginOptions = {}): Promise<LoginMethod> {
    const apop = opts.apop ?? 'auto';
    const timestamp = apopTimestamp(this.greeting.text);
    if (apop === 'require' && !timestamp) throw new FetchError('auth', 'APOP required but the server offers no timestamp', false);
    if (timestamp && (apop === 'require' || (apop === 'auto' && !this.secure))) {
      const digest = createHash('md5').update(timestamp + password, 'utf8').digest('hex');
      const r = await this.command(`APOP ${user} ${digest}`, `APOP ${user} <digest>`);
      if (r.ok) return 'apop';
      throwIfNotCredentials(r);
      if (apop === 'require') throw new FetchError('auth', `APOP refused: ${r.text}`);
    }
    const u = await this.command(`USER ${user}`);
    if (u.ok) {
      const p = await this.command(`PASS ${password}`, 'PASS <password>');
      if (p.ok) return 'user';
      throwIfNotCredentials(p);
      throw new FetchError('auth', `login refused: ${p.text || '-ERR'}`);
    }
    throwIfNotCredentials(u);
    // Some servers disable USER but offer SASL PLAIN (RFC 5034).
    if (this.capabilities?.get('SASL')?.some((m) => m.toUpperCase() === 'PLAIN')) {
      const token = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
      const a = await this.command(`AUTH PLAIN ${token}`, 'AUTH PLAIN <token>');
      if (a.ok) return 'sasl-plain';
      throwIfNotCredentials(a);
      throw new FetchError('auth', `login refused: ${a.text || '-ERR'}`);
    }
    throw new FetchError('auth', `login refused: ${u.text || '-ERR'}`);
  }

  async stat(): Promise<{ count: number; size: number }> {
    const r = await this.expectOk('STAT');
    const m = /^(\d+)\s+(\d+)/.exec(r.text);
    if (!m) throw new FetchError('protocol', `unreadable STAT answer: ${r.text}`);
    return { count: Number(m[1]), size: Number(m[2]) };
  }

  /** UIDL of every message; FetchError 'unsupported' when the server has no UIDL. */
  async uidl(): Promise<Array<{ n: number; uid: string }>> {
    const body = await this.listing('UIDL', (s) => (s.ok ? null : new FetchError('unsupported', `the server refuses UIDL (${s.text}); mailroom needs it to remember what it fetched`, false)));
    const out: Array<{ n: number; uid: string }> = [];
    for (const line of listingLines(body)) {
      const e = parseUidlLine(line);
      if (!e) throw new FetchError('protocol', `unreadable UIDL line: ${line.slice(0, 100)}`);
      out.push(e);
    }
    return out;
  }

  async list(): Promise<Array<{ n: number; size: number }>> {
    const body = await this.listing('LIST');
    const out: Array<{ n: number; size: number }> = [];
    for (const line of listingLines(body)) {
      const e = parseListLine(line);
      if (!e) throw new FetchError('protocol', `unreadable LIST line: ${line.slice(0, 100)}`);
      out.push(e);
    }
    return out;
  }

  /** UIDL joined with LIST: every message with its number, unique id and size. */
  async messages(): Promise<Pop3Message[]> {
    const uids = await this.uidl();
    const sizes = new Map((await this.list()).map((e) => [e.n, e.size]));
    return uids.map((e) => ({ n: e.n, uid: e.uid, size: sizes.get(e.n) ?? 0 }));
  }

  /**
   * RETR as a stream of the message's bytes (unstuffed, line ends as sent).
   * The stream errors with a FetchError if the server refuses or the
   * connection breaks before the terminating dot.
   */
  retr(n: number): Readable {
    let finished = false;
    const stream = new Readable({
      read: () => this.resume(),
      destroy: (err, cb) => {
        // A consumer that gives up mid-message leaves the connection unusable:
        // the rest of the body would be read as the next answer.
        if (!finished) {
          finished = true;
          this.fail(err ? toFetchError(err, 'closed') : new FetchError('closed', `RETR ${n} abandoned by the reader`));
        }
        cb(err);
      },
    });
    this.enqueue(
      () =>
        new Promise<void>((resolve, reject) => {
          this.waiter = {
            kind: 'multi',
            phase: 'status',
            decoder: new DotDecoder(),
            onStatus: (s) => {
              if (!s.ok) {
                const err = new FetchError('protocol', `RETR ${n} refused: ${s.text}`);
                finished = true;
                stream.destroy(err);
                reject(err);
              }
            },
            onData: (b) => stream.push(b),
            onEnd: () => {
              finished = true;
              stream.push(null);
              resolve();
            },
            reject: (e) => {
              finished = true;
              stream.destroy(e);
              reject(e);
            },
          };
          this.write(`RETR ${n}`);
        }),
    ).catch((err: unknown) => {
      // The connection failed before this RETR could even be sent.
      if (!finished) {
        finished = true;
        stream.destroy(toFetchError(err, 'closed'));
      }
    });
    return stream;
  }

  /** RETR into one Buffer (for messages known to be small). */
  async retrBuffer(n: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of this.retr(n)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  async dele(n: number): Promise<void> {
    await this.expectOk(`DELE ${n}`);
  }

  async noop(): Promise<void> {
    await this.expectOk('NOOP');
  }

  async rset(): Promise<void> {
    await this.expectOk('RSET');
  }

  /** QUIT: the server applies DELEs now (UPDATE state) and closes. */
  async quit(): Promise<void> {
    try {
      const r = await this.command('QUIT');
      if (!r.ok) throw new FetchError('protocol', `QUIT refused, deletions not applied: ${r.text}`);
    } finally {
      this.socket.end();
    }
  }

  /** Drops the connection without QUIT: the server applies no deletions. */
  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  // ------------------------------------------------------------ internals

  private async startTls(): Promise<void> {
    if (this.capabilities && !this.has('STLS')) {
      throw new FetchError('tls', 'STARTTLS required but the server does not offer STLS', false);
    }
    const r = await this.command('STLS');
    if (!r.ok) throw new FetchError('tls', `STLS refused: ${r.text}`, false);
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
    this.capabilities = null;
  }

  private async readCapabilities(): Promise<void> {
    try {
      const body = await this.listing('CAPA', () => null, true);
      const caps = new Map<string, string[]>();
      for (const line of listingLines(body)) {
        const [name, ...args] = line.trim().split(/\s+/);
        if (name) caps.set(name.toUpperCase(), args);
      }
      this.capabilities = caps;
    } catch (err) {
      if (err instanceof NoCapa) this.capabilities = null;
      else throw err;
    }
  }

  private async expectOk(cmd: string): Promise<StatusLine> {
    const r = await this.command(cmd);
    if (!r.ok) throw new FetchError('protocol', `${cmd.split(' ')[0]} refused: ${r.text}`);
    return r;
  }

  /** Sends a one-line command and reads its status line. */
  private command(cmd: string, logAs = cmd): Promise<StatusLine> {
    return this.enqueue(
      () =>
        new Promise<StatusLine>((resolve, reject) => {
          this.opts.logger?.trace({ cmd: logAs }, 'pop3 client command');
          this.waiter = { kind: 'status', resolve, reject };
          this.write(cmd);
        }),
    );
  }

  /** Sends a command with a multi-line answer and collects it (listings only). */
  private listing(cmd: string, onErr: (s: StatusLine) => Error | null = (s) => new FetchError('protocol', `${cmd} refused: ${s.text}`), optional = false): Promise<Buffer> {
    return this.enqueue(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          const chunks: Buffer[] = [];
          let total = 0;
          this.waiter = {
            kind: 'multi',
            phase: 'status',
            decoder: new DotDecoder(),
            onStatus: (s) => {
              if (!s.ok) reject(onErr(s) ?? (optional ? new NoCapa() : new FetchError('protocol', `${cmd} refused`)));
            },
            onData: (b) => {
              total += b.length;
              if (total > MAX_LISTING) {
                this.fail(new FetchError('protocol', `${cmd} listing larger than ${MAX_LISTING} bytes`));
                return true;
              }
              chunks.push(Buffer.from(b));
              return true;
            },
            onEnd: () => resolve(Buffer.concat(chunks)),
            reject,
          };
          this.write(cmd);
        }),
    );
  }

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
    this.socket.destroy();
  };

  private fail(err: FetchError): void {
    if (!this.failure) this.failure = err;
    const w = this.waiter;
    this.waiter = null;
    this.socket.setTimeout(0);
    w?.reject(err);
    this.socket.destroy();
  }

  private armTimer(): void {
    this.socket.setTimeout(this.timeoutMs);
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.armTimer();
    this.socket.resume();
  }

  /** Feeds body bytes to a multi-line waiter; finishes it at the terminator. */
  private feedBody(w: Extract<Waiter, { kind: 'multi' }>, chunk: Buffer): void {
    const r = w.decoder.push(chunk);
    let more = true;
    for (const d of r.data) more = w.onData(d) && more;
    if (r.done) {
      this.waiter = null;
      this.socket.setTimeout(0);
      this.buf = r.rest.length > 0 ? Buffer.from(r.rest) : EMPTY;
      w.onEnd();
    } else if (!more && this.waiter === w) {
      // Backpressure: the consumer will call resume() through read().
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
      } else {
        w.onStatus(status);
        if (!status.ok) {
          this.waiter = null;
          this.socket.setTimeout(0);
        } else {
          w.phase = 'body';
        }
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

/** CAPA is optional (RFC 2449): a server without it answers -ERR. */
class NoCapa extends Error {}

/** -ERR codes that say "not now" rather than "wrong password" (RFC 2449, RFC 3206). */
function throwIfNotCredentials(s: StatusLine): void {
  if (s.code === 'IN-USE') throw new FetchError('auth', `mailbox in use by another session: ${s.text}`, true);
  if (s.code === 'LOGIN-DELAY') throw new FetchError('auth', `login delay in force: ${s.text}`, true);
  if (s.code === 'SYS/TEMP') throw new FetchError('auth', `temporary server problem: ${s.text}`, true);
  if (s.code === 'SYS/PERM') throw new FetchError('auth', `server refused permanently: ${s.text}`, true);
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
