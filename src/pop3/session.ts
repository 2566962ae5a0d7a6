/**
 * One POP3 connection: reads lines, runs commands from the table, writes replies.
 *
 * Rules it keeps:
 * - Commands run one at a time, in order, so pipelined commands (RFC 2449
 *   PIPELINING) get their replies in order; reading pauses while too much is buffered.
 * - Nothing in the store changes unless QUIT is received in TRANSACTION: a
 *   dropped connection, a timeout or a server shutdown deletes nothing. The
 *   only writes otherwise are the retrieved/\Seen marks, made when the session ends.
 * - The maildrop lock (store.tryLock "pop3:<userId>") is taken at login, refreshed
 *   while the session lives, and released only after QUIT's deletions are done,
 *   so the next session sees their result. A second session gets -ERR [IN-USE].
 * - Every input is bounded: line length, bad commands, commands before login,
 *   failed logins; idle time (shorter before login). Past a bound: -ERR, close.
 * - After STLS, anything the client sent before the handshake is discarded.
 * - An unexpected error becomes "-ERR [SYS/TEMP]" (details go to the log); if it
 *   strikes in the middle of a multi-line reply, the connection is closed instead,
 *   since the client could not tell the rest of the reply from what follows.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { LoginContext, LoginFailure } from '../auth/types.js';
import type { ServiceContext } from '../service.js';
import type { User } from '../store/types.js';
import { commandTable, continueSasl, type SessionApi } from './commands/index.js';
import { errors, Pop3Error } from './errors.js';
import { MaildropLock } from './lock.js';
import { Maildrop, type DropMessage } from './maildrop.js';
import { MessageReader } from './message-reader.js';
import { LineReader, parseCommand, type LineResult } from './parser.js';
import type { SessionState } from './state.js';
import { applyUpdate, recordMarks } from './update.js';

export const limits = {
  /** Bad commands (unknown, wrong state, bad arguments) before the connection is closed. */
  maxBadCommands: 10,
  /** Commands in AUTHORIZATION before the connection is closed (CAPA, STLS, USER, ...). */
  maxCommandsBeforeLogin: 30,
  /** Failed logins on one connection before it is closed (the Authenticator throttles across connections). */
  maxLoginFailures: 3,
  /** Bytes of unprocessed input before reading pauses (a pipelining client waits; nothing is lost). */
  maxBuffered: 64 * 1024,
  /**
   * Seconds of silence allowed before login. RFC 1939's ten-minute minimum is for
   * logged-in sessions; an unauthenticated connection holding a slot gets less.
   */
  preLoginTimeout: 60,
  /** How long stop() lets a command in progress finish. */
  shutdownGraceMs: 2_000,
};

/** The client went away while we were writing; not an error worth a reply. */
class ConnectionClosed extends Error {}

const HTTP_REQUEST = /^(GET|POST|HEAD|PUT|OPTIONS|CONNECT|DELETE|PATCH) \S+ HTTP\/\d/i;

export interface SessionOptions {
  ctx: ServiceContext;
  logger: Logger;
  /** For STLS on a plain connection; null when the socket is already TLS or TLS is not configured. */
  secureContext: SecureContext | null;
  /** Called once when the connection is gone and the session's resources are released. */
  onEnd(session: Pop3Session): void;
}

export class Pop3Session implements SessionApi {
  readonly id = randomBytes(6).toString('hex');
  readonly log: Logger;
  readonly ctx: ServiceContext;
  readonly apopTimestamp: string | null;
  state: SessionState = { kind: 'authorization', user: null };

  private socket: Socket;
  private secure: boolean;
  private readonly ip: string;
  private readonly reader = new LineReader();
  private busy = false;
  private paused = false;
  private ended = false;
  private badCommands = 0;
  private commandsBeforeLogin = 0;
  private loginFailures = 0;
  private firstCommand = true;
  /** Part of a multi-line reply has been written: an error now must close the connection. */
  private midResponse = false;
  private lock: MaildropLock | null = null;
  /** The open maildrop (from login to the end), for the retrieved marks whatever ends the session. */
  private maildrop: Maildrop | null = null;
  private readonly messages: MessageReader;
  private drainWaiters: Array<{ resolve(): void; reject(err: Error): void }> = [];
  private endWaiters: Array<() => void> = [];

  constructor(
    socket: Socket,
    private readonly opts: SessionOptions,
  ) {
    this.socket = socket;
    this.ctx = opts.ctx;
    this.messages = new MessageReader(opts.ctx.store.blobs);
    this.secure = socket instanceof TLSSocket;
    this.ip = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.log = opts.logger.child({ session: this.id, ip: this.ip });
    this.apopTimestamp = this.ctx.config.pop3.apop
      ? `<${process.pid}.${Date.now()}.${randomBytes(4).toString('hex')}@${this.ctx.config.hostname}>`
      : null;
    this.attach(socket);
  }

  // ------------------------------------------------------------ SessionApi

  get loginContext(): LoginContext {
    return { ip: this.ip, protocol: 'pop3', secure: this.secure };
  }

  get canStartTls(): boolean {
    return !this.secure && this.opts.secureContext !== null;
  }

  setState(state: SessionState): void {
    this.state = state;
  }

  ok(text?: string): void {
    this.write(text ? `+OK ${text}\r\n` : '+OK\r\n');
  }

  multiline(head: string, lines: Iterable<string>): void {
    let out = `+OK ${head}\r\n`;
    for (const line of lines) out += `${line.startsWith('.') ? '.' : ''}${line}\r\n`;
    this.write(`${out}.\r\n`);
  }

  sendLine(line: string): void {
    this.write(`${line}\r\n`);
  }

  async sendMessage(n: number, msg: DropMessage, head: string, bodyLines?: number): Promise<void> {
    for await (const piece of this.messages.reply(n, msg, head, bodyLines)) {
      this.midResponse = true;
      await this.writeAwait(piece);
    }
    this.midResponse = false;
    if (bodyLines === undefined) this.messages.readAhead(this.maildrop?.nextLive(n) ?? null);
  }

  async startTls(): Promise<void> {
    const context = this.opts.secureContext;
    if (!context || this.secure) throw errors.tlsUnavailable();
    await this.writeAwait(Buffer.from('+OK Begin TLS negotiation\r\n'));
    const raw = this.socket;
    this.detach(raw);
    // Anything pipelined after STLS arrived in plaintext and must not be trusted.
    this.reader.clear();
    const secured = new TLSSocket(raw, { isServer: true, secureContext: context });
    this.socket = secured;
    this.secure = true;
    this.attach(secured);
    secured.setTimeout(Math.min(limits.preLoginTimeout, this.ctx.config.pop3.timeout) * 1000);
    secured.once('secure', () => this.log.debug('tls established'));
  }

  async completeLogin(user: User): Promise<void> {
    const { store, config } = this.ctx;
    let lock: MaildropLock | null;
    try {
      lock = await MaildropLock.acquire(store, user.id, this.id, this.log);
    } catch (err) {
      this.log.error({ err, user: user.login }, 'maildrop lock failed');
      throw errors.tempfail();
    }
    if (!lock) {
      this.log.info({ user: user.login }, 'maildrop in use');
      throw errors.inUse();
    }
    try {
      // The client may have gone while we waited for the store: then nobody would release the lock.
      if (this.ended) throw new ConnectionClosed();
      const delay = config.pop3.loginDelay;
      // A lock that nobody releases and that expires after the delay: the first
      // login inside the window finds it held by an earlier session.
      if (delay > 0 && !(await store.tryLock(`pop3-login:${user.id}`, this.id, delay * 1000))) {
        this.log.info({ user: user.login }, 'login delay');
        throw errors.loginDelay(delay);
      }
      const inbox = await store.getMailbox(user.id, 'INBOX');
      if (!inbox) throw new Error(`user ${user.id} has no INBOX`);
      const maildrop = Maildrop.fromMeta(inbox.id, inbox.uidValidity, await store.listMessages(inbox.id));
      if (this.ended) throw new ConnectionClosed();
      lock.startRefreshing();
      this.lock = lock;
      this.maildrop = maildrop;
      this.state = { kind: 'transaction', user, maildrop };
      this.socket.setTimeout(this.ctx.config.pop3.timeout * 1000);
      const { count, size } = maildrop.stat();
      this.messages.readAhead(maildrop.nextLive(0));
      this.log.info({ user: user.login, messages: count, octets: size }, 'login');
      this.ok(`${user.login} has ${count} messages (${size} octets)`);
    } catch (err) {
      await lock.release();
      if (err instanceof Pop3Error || err instanceof ConnectionClosed) throw err;
      this.log.error({ err, user: user.login }, 'opening the maildrop failed');
      throw errors.tempfail();
    }
  }

  loginFailed(result: LoginFailure): Pop3Error {
    this.loginFailures++;
    this.log.info({ reason: result.reason, failures: this.loginFailures }, 'login failed');
    switch (result.reason) {
      case 'invalid':
        return errors.authFailed();
      case 'disabled':
        return errors.disabled();
      case 'throttled':
        return errors.throttled(result.retryAfter);
      case 'tempfail':
        return errors.tempfail();
    }
  }

  async quit(): Promise<void> {
    const state = this.state;
    if (state.kind !== 'transaction') {
      this.ok(`${this.ctx.config.hostname} POP3 server signing off`);
      this.close();
      return;
    }
    this.state = { kind: 'update' };
    const log = this.log.child({ user: state.user.login });
    this.write(await applyUpdate(this.ctx.store, state.maildrop, this.lock, this.ctx.config.hostname, log));
    this.close();
  }

  // ------------------------------------------------------------ lifecycle

  greet(): void {
    this.socket.setTimeout(Math.min(limits.preLoginTimeout, this.ctx.config.pop3.timeout) * 1000);
    this.ok(`${this.ctx.config.hostname} POP3 server ready${this.apopTimestamp ? ` ${this.apopTimestamp}` : ''}`);
  }

  /** Refuse and close (too many connections): no session state was created. */
  refuse(err: Pop3Error): void {
    this.write(err.line());
    this.close();
  }

  /** Server shutdown: let a command in progress finish briefly, then close. Deletes nothing. */
  async shutdown(): Promise<void> {
    if (this.ended) return;
    if (!this.busy && !this.midResponse) this.write(errors.shuttingDown().line());
    const ended = new Promise<void>((resolve) => this.endWaiters.push(resolve));
    if (!this.busy) this.close();
    const timer = setTimeout(() => this.socket.destroy(), limits.shutdownGraceMs);
    await ended;
    clearTimeout(timer);
  }

  /** Stop reading, send what is queued, then close. Resources are released on 'close'. */
  close(): void {
    if (this.state.kind !== 'closed') this.state = { kind: 'closed' };
    this.socket.end();
    // A client that never reads its replies does not keep the socket forever.
    setTimeout(() => this.socket.destroy(), 5_000).unref();
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('timeout', this.onTimeout);
    socket.on('drain', this.onDrain);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
    socket.off('timeout', this.onTimeout);
    socket.off('drain', this.onDrain);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.state.kind === 'closed' || this.state.kind === 'update') return;
    this.reader.push(chunk);
    if (this.reader.buffered > limits.maxBuffered && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    void this.pump();
  };

  private readonly onError = (err: Error): void => {
    this.log.debug({ err: err.message }, 'connection error');
  };

  private readonly onTimeout = (): void => {
    this.log.info({ state: this.state.kind }, 'idle timeout');
    if (this.midResponse) this.socket.destroy();
    else {
      this.write(errors.timeout().line());
      this.close();
    }
  };

  private readonly onDrain = (): void => {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w.resolve();
  };

  private readonly onClose = (): void => {
    if (this.ended) return;
    this.ended = true;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w.reject(new ConnectionClosed());
    void this.release().finally(() => {
      this.log.debug('closed');
      this.opts.onEnd(this);
      for (const resolve of this.endWaiters.splice(0)) resolve();
    });
  };

  /** The connection is gone: keep the retrieved marks, release the lock. Deletes nothing. */
  private async release(): Promise<void> {
    const state = this.state;
    this.state = { kind: 'closed' };
    if (state.kind === 'transaction') this.log.info({ user: state.user.login }, 'connection ended without QUIT; nothing deleted');
    if (this.maildrop) await recordMarks(this.ctx.store, this.maildrop, this.log);
    if (this.lock) {
      await this.lock.release();
      this.lock = null;
    }
  }

  // ------------------------------------------------------------ reading and dispatch

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.state.kind !== 'closed' && this.state.kind !== 'update') {
        const next = this.reader.next();
        if (next.kind === 'needMore') break;
        await this.handle(next);
      }
    } finally {
      this.busy = false;
    }
    if (this.paused && this.state.kind !== 'closed') {
      this.paused = false;
      this.socket.resume();
    }
  }

  private async handle(input: Exclude<LineResult, { kind: 'needMore' }>): Promise<void> {
    try {
      if (input.kind === 'tooLong') throw errors.lineTooLong();
      if (this.state.kind === 'sasl') {
        await continueSasl(this, input.line);
        return;
      }
      await this.dispatch(input.line);
    } catch (err) {
      this.replyError(err);
    }
    if (this.loginFailures >= limits.maxLoginFailures && this.state.kind === 'authorization') {
      this.log.info('too many failed logins; closing');
      this.close();
    }
  }

  private async dispatch(line: string): Promise<void> {
    const first = this.firstCommand;
    this.firstCommand = false;
    if (first && HTTP_REQUEST.test(line)) {
      this.write(errors.httpOnPopPort().line());
      this.close();
      return;
    }
    const parsed = parseCommand(line);
    if (!parsed.ok) throw parsed.reason === 'empty' ? errors.emptyLine() : errors.notAKeyword();
    const { command } = parsed;
    const spec = commandTable.get(command.name);
    if (!spec) throw errors.unknownCommand(command.name);
    const state = this.state.kind;
    if (state !== 'authorization' && state !== 'transaction') return;
    if (state === 'authorization' && ++this.commandsBeforeLogin > limits.maxCommandsBeforeLogin) {
      this.write(errors.tooManyBeforeLogin().line());
      this.close();
      return;
    }
    if (!spec.states.includes(state)) throw errors.wrongState(command.name, state);
    const args = spec.parse(command);
    if (args instanceof Pop3Error) throw args;
    this.log.debug({ command: command.name }, 'command');
    await spec.run(this, args);
  }

  private replyError(err: unknown): void {
    if (err instanceof ConnectionClosed || this.ended) return;
    if (!(err instanceof Pop3Error)) this.log.error({ err }, 'command failed');
    if (this.midResponse) {
      this.socket.destroy();
      return;
    }
    const e = err instanceof Pop3Error ? err : errors.internal();
    this.write(e.line());
    if (e.bad && ++this.badCommands >= limits.maxBadCommands) {
      this.write(errors.tooManyBad().line());
      this.close();
    }
  }

  // ------------------------------------------------------------ writing

  private write(data: string | Buffer): void {
    const s = this.socket;
    if (s.destroyed || !s.writable) return;
    // Replies to pipelined commands leave in one packet.
    if (!s.writableCorked) {
      s.cork();
      process.nextTick(() => s.uncork());
    }
    s.write(data);
  }

  /** Write with backpressure: resolves when the socket can take more. */
  private writeAwait(data: Buffer): Promise<void> {
    const s = this.socket;
    if (this.ended || s.destroyed || !s.writable) return Promise.reject(new ConnectionClosed());
    while (s.writableCorked) s.uncork();
    if (s.write(data)) return Promise.resolve();
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }
}
