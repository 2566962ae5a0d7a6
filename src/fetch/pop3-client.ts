/**
 * A small POP3 client (RFC 1939) for fetching from outside mailboxes: plain,
 * STLS (RFC 2595) and implicit TLS, CAPA (RFC 2449), APOP, USER/PASS and
 * AUTH PLAIN (RFC 5034), UIDL, LIST, streaming RETR with dot-unstuffing, DELE,
 * QUIT.
 *
 * Rules it keeps:
 * - RETR is a stream with backpressure (pop3-connection.ts pauses the socket),
 *   so a 50 MB message is never held whole in memory; a connection that closes
 *   or stalls mid-message fails the stream with a FetchError ('closed' /
 *   'timeout'), and a truncated message never looks complete.
 * - STLS never downgrades: if the server does not offer it or refuses it, the
 *   connection fails before any credential is sent.
 * - The password crosses in clear only when the account says tls = none and
 *   the server offers no APOP.
 * - Deletions (DELE) take effect only when QUIT is answered +OK (RFC 1939 6):
 *   dropping the connection instead leaves the maildrop untouched.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { FetchError, toFetchError } from './errors.js';
import { Pop3Connection, type Pop3ConnectOptions } from './pop3-connection.js';
import { apopTimestamp, listingLines, parseListLine, parseUidlLine, type StatusLine } from './pop3-response.js';

export type { Pop3ConnectOptions, TlsMode } from './pop3-connection.js';

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

/** Bound for listings (UIDL/LIST/CAPA): 1M messages of 70-octet UIDs. */
const MAX_LISTING = 80 * 1024 * 1024;

export class Pop3Client {
  capabilities: Map<string, string[]> | null = null;

  private constructor(
    private readonly conn: Pop3Connection,
    readonly greeting: StatusLine,
  ) {}

  /** Connects, reads the greeting, upgrades with STLS when asked, reads CAPA. */
  static async connect(opts: Pop3ConnectOptions): Promise<Pop3Client> {
    const { conn, greeting } = await Pop3Connection.open(opts);
    const client = new Pop3Client(conn, greeting);
    try {
      if (!greeting.ok) throw new FetchError('connect', `server refused the connection: ${greeting.text}`);
      await client.readCapabilities();
      if (opts.tls === 'starttls') {
        if (client.capabilities && !client.has('STLS')) throw new FetchError('tls', 'STARTTLS required but the server does not offer STLS', false);
        const r = await conn.command('STLS');
        if (!r.ok) throw new FetchError('tls', `STLS refused: ${r.text}`, false);
        await conn.upgradeTls();
        // RFC 2595 4: forget what was learnt before TLS, ask again.
        await client.readCapabilities();
      }
      return client;
    } catch (err) {
      conn.destroy();
      throw toFetchError(err, 'connect');
    }
  }

  get secure(): boolean {
    return this.conn.secure;
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
      const r = await this.conn.command(`APOP ${user} ${digest}`, `APOP ${user} <digest>`);
      if (r.ok) return 'apop';
      throwIfNotCredentials(r);
      if (apop === 'require') throw new FetchError('auth', `APOP refused: ${r.text}`);
    }
    const u = await this.conn.command(`USER ${user}`);
    if (u.ok) {
      const p = await this.conn.command(`PASS ${password}`, 'PASS <password>');
      if (p.ok) return 'user';
      throwIfNotCredentials(p);
      throw new FetchError('auth', `login refused: ${p.text || '-ERR'}`);
    }
    throwIfNotCredentials(u);
    // Some servers disable USER but offer SASL PLAIN (RFC 5034).
    if (this.capabilities?.get('SASL')?.some((m) => m.toUpperCase() === 'PLAIN')) {
      const token = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
      const a = await this.conn.command(`AUTH PLAIN ${token}`, 'AUTH PLAIN <token>');
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
    const body = await this.listing('UIDL', (s) => new FetchError('unsupported', `the server refuses UIDL (${s.text}); mailroom needs it to remember what it fetched`, false));
    const out: Array<{ n: number; uid: string }> = [];
    for (const line of listingLines(body!)) {
      const e = parseUidlLine(line);
      if (!e) throw new FetchError('protocol', `unreadable UIDL line: ${line.slice(0, 100)}`);
      out.push(e);
    }
    return out;
  }

  async list(): Promise<Array<{ n: number; size: number }>> {
    const body = await this.listing('LIST', (s) => new FetchError('protocol', `LIST refused: ${s.text}`));
    const out: Array<{ n: number; size: number }> = [];
    for (const line of listingLines(body!)) {
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
      read: () => this.conn.resume(),
      destroy: (err, cb) => {
        // A reader that gives up mid-message leaves the connection unusable:
        // the rest of the body would be read as the next answer.
        if (!finished) {
          finished = true;
          this.conn.fail(err ? toFetchError(err, 'closed') : new FetchError('closed', `RETR ${n} abandoned by the reader`));
        }
        cb(err);
      },
    });
    const end = (err?: Error) => {
      if (finished) return;
      finished = true;
      if (err) stream.destroy(err);
      else stream.push(null);
    };
    this.conn
      .multiline(`RETR ${n}`, {
        onStatus: (s) => {
          if (!s.ok) end(new FetchError('protocol', `RETR ${n} refused: ${s.text}`));
        },
        onData: (b) => stream.push(b),
        onEnd: () => end(),
        onError: (e) => end(e),
      })
      // The connection failed before this RETR could even be sent.
      .catch((err: unknown) => end(toFetchError(err, 'closed')));
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
      const r = await this.conn.command('QUIT');
      if (!r.ok) throw new FetchError('protocol', `QUIT refused, deletions not applied: ${r.text}`);
    } finally {
      this.conn.end();
    }
  }

  /** Drops the connection without QUIT: the server applies no deletions. */
  destroy(): void {
    this.conn.destroy();
  }

  // ------------------------------------------------------------ internals

  /** CAPA is optional (RFC 2449): a server without it answers -ERR, and we know nothing. */
  private async readCapabilities(): Promise<void> {
    const body = await this.listing('CAPA', () => null);
    if (body === null) {
      this.capabilities = null;
      return;
    }
    const caps = new Map<string, string[]>();
    for (const line of listingLines(body)) {
      const [name, ...args] = line.trim().split(/\s+/);
      if (name) caps.set(name.toUpperCase(), args);
    }
    this.capabilities = caps;
  }

  private async expectOk(cmd: string): Promise<StatusLine> {
    const r = await this.conn.command(cmd);
    if (!r.ok) throw new FetchError('protocol', `${cmd.split(' ')[0]} refused: ${r.text}`);
    return r;
  }

  /**
   * A command with a multi-line answer, collected whole (listings only, bounded).
   * On -ERR: throws what onErr returns, or resolves null when it returns null.
   */
  private async listing(cmd: string, onErr: (s: StatusLine) => FetchError | null): Promise<Buffer | null> {
    const chunks: Buffer[] = [];
    let total = 0;
    let refused: StatusLine | null = null;
    await this.conn.multiline(cmd, {
      onStatus: (s) => {
        if (!s.ok) refused = s;
      },
      onData: (b) => {
        total += b.length;
        if (total > MAX_LISTING) {
          this.conn.fail(new FetchError('protocol', `${cmd} listing larger than ${MAX_LISTING} bytes`));
          return true;
        }
        chunks.push(Buffer.from(b));
        return true;
      },
      onEnd: () => undefined,
      onError: () => undefined,
    });
    if (refused) {
      const err = onErr(refused);
      if (err) throw err;
      return null;
    }
    return Buffer.concat(chunks);
  }
}

/** -ERR codes that say "not now" rather than "wrong password" (RFC 2449, RFC 3206). */
function throwIfNotCredentials(s: StatusLine): void {
  if (s.code === 'IN-USE') throw new FetchError('auth', `mailbox in use by another session: ${s.text}`, true);
  if (s.code === 'LOGIN-DELAY') throw new FetchError('auth', `login delay in force: ${s.text}`, true);
  if (s.code === 'SYS/TEMP') throw new FetchError('auth', `temporary server problem: ${s.text}`, true);
  if (s.code === 'SYS/PERM') throw new FetchError('auth', `server refused permanently: ${s.text}`, true);
}
