/**
 * One IMAP session (RFC 3501 3, RFC 9051 3): a state machine over the command
 * table. States: notAuthenticated → authenticated ⇄ selected → logout.
 *
 * Rules kept here, not in the commands:
 * - A command runs only in the states its table entry names; otherwise BAD.
 * - Commands run one at a time in the order received (pipelined commands wait);
 *   untagged updates about the selected mailbox go out just before a tagged
 *   completion, never during FETCH/STORE/SEARCH by sequence number (selected.ts).
 * - Bounds: commands before login, consecutive bad commands, idle time (short
 *   before login, config imap.timeout after), literal sizes (reader.ts).
 * - Any error a command throws becomes its tagged NO/BAD; an unexpected one
 *   is logged and answered "NO [SERVERBUG]". The session always goes on.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { LoginContext } from '../auth/types.js';
import type { ServiceContext } from '../service.js';
import { isStoreError } from '../store/errors.js';
import type { Mailbox, MailboxChange, Store, User } from '../store/types.js';
import { capabilities } from './capabilities.js';
import { commandTable, type Done } from './commands/index.js';
import type { Connection } from './connection.js';
import { errors, toImapError, type ImapError } from './errors.js';
import type { HeaderCache } from './fetch/header-cache.js';
import { mailboxFromWire, mailboxToWire } from './names.js';
import { Cursor, ParseError } from './parser/cursor.js';
import type { Frame, LiteralInfo } from './parser/reader.js';
import { quote, str, type Piece } from './responses/encode.js';
import { SelectedMailbox } from './selected.js';
import type { MailboxWatchers, Watcher } from './watchers.js';

export interface ImapContext {
  service: ServiceContext;
  logger: Logger;
  secureContext: SecureContext | null;
  watchers: MailboxWatchers;
  /** Largest APPEND, bytes (APPENDLIMIT). */
  appendLimit: number;
  /** Seconds of inactivity before logout, after login. */
  timeout: number;
  /** Message headers recently fetched, shared by the service's sessions. */
  headerCache: HeaderCache;
  /** Ingests an APPEND literal into the blob store (store/ingest.ts). */
  ingest: (source: NodeJS.ReadableStream | Buffer, maxBytes: number) => Promise<IngestResult>;
}

export interface IngestResult {
  blob: { id: string; size: number };
  index: import('../core/mime/types.js').MessageIndex;
}

export type SessionState =
  | { kind: 'notAuthenticated'; failures: number; commands: number }
  | { kind: 'authenticated'; user: User }
  | { kind: 'selected'; user: User; mailbox: SelectedMailbox }
  | { kind: 'logout' };

export type StateKind = SessionState['kind'];

const MAX_COMMANDS_BEFORE_LOGIN = 50;
const MAX_BAD_IN_A_ROW = 20;
const MAX_LOGIN_FAILURES = 5;
const PREAUTH_TIMEOUT_S = 60;
const INLINE_LITERAL_AFTER_LOGIN = 64 * 1024;

/** An APPEND literal being written to the blob store while it arrives. */
interface StreamedAppend {
  stream: PassThrough;
  result: Promise<IngestResult>;
  literal: LiteralInfo;
}

export class Session implements Watcher {
  readonly id = randomBytes(6).toString('base64url');
  state: SessionState = { kind: 'notAuthenticated', failures: 0, commands: 0 };
  readonly enabled = new Set<string>();
  log: Logger;
  private badInARow = 0;
  private streamed: StreamedAppend | null = null;
  /** Set while IDLE waits, so a mailbox change wakes it. */
  idling = false;

  constructor(
    readonly ctx: ImapContext,
    readonly conn: Connection,
  ) {
    this.log = ctx.logger.child({ sid: this.id, ip: conn.remoteAddress });
  }

  get store(): Store {
    return this.ctx.service.store;
  }

  /** UTF-8 in quoted strings and mailbox names (RFC 6855 UTF8=ACCEPT, RFC 9051). */
  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT') || this.enabled.has('IMAP4REV2');
  }

  get rev2(): boolean {
    return this.enabled.has('IMAP4REV2');
  }

  get condstore(): boolean {
    return this.enabled.has('CONDSTORE') || this.enabled.has('QRESYNC');
  }

  get qresync(): boolean {
    return this.enabled.has('QRESYNC');
  }

  get encodeOptions(): { utf8: boolean } {
    return { utf8: this.utf8 };
  }

  loginContext(): LoginContext {
    return { ip: this.conn.remoteAddress, protocol: 'imap', secure: this.conn.secure };
  }

  capabilityList(): string[] {
    const lc = this.loginContext();
    return capabilities({
      authenticated: this.state.kind === 'authenticated' || this.state.kind === 'selected',
      secure: this.conn.secure,
      canStartTls: !this.conn.secure && this.ctx.secureContext !== null,
      plaintextAllowed: this.ctx.service.auth.plaintextAllowed(lc),
      mechanisms: this.ctx.service.auth.mechanisms(lc),
      compressed: this.conn.compressed,
      appendLimit: this.ctx.appendLimit,
    });
  }

  /** Writes an untagged (or continuation) line; CRLF is added. */
  send(line: string): void {
    this.conn.write(line + '\r\n');
  }

  async sendPieces(pieces: Piece[]): Promise<void> {
    await this.conn.writePieces(pieces);
  }

  user(): User {
    if (this.state.kind === 'authenticated' || this.state.kind === 'selected') return this.state.user;
    throw errors.wrongState();
  }

  selected(): SelectedMailbox {
    if (this.state.kind === 'selected') return this.state.mailbox;
    throw errors.wrongState();
  }

  /** A mailbox argument from the wire as a store name. */
  mailboxName(raw: Buffer): string {
    return mailboxFromWire(raw, this.utf8);
  }

  /** A store name as a response string. */
  wireMailbox(name: string): Piece {
    return str(mailboxToWire(name, this.utf8), this.encodeOptions);
  }

  /** A store name as a quoted string (names never hold CR/LF; 8-bit only in UTF-8 mode). */
  quotedMailbox(name: string): string {
    return quote(mailboxToWire(name, this.utf8));
  }

  /** FLAGS list as a response, with \Recent for this session's recent messages (IMAP4rev1 only). */
  formatFlags(flags: string[], uid?: number): string {
    const mb = this.state.kind === 'selected' ? this.state.mailbox : null;
    const recent = !this.rev2 && mb !== null && uid !== undefined && uid >= mb.recentFrom;
    return '(' + (recent ? [...flags, '\\Recent'] : flags).join(' ') + ')';
  }

  async getMailbox(name: string): Promise<Mailbox | null> {
    return this.store.getMailbox(this.user().id, name);
  }

  // ---------------------------------------------------------------- selected mailbox

  enterSelected(mailbox: SelectedMailbox): void {
    this.leaveSelected();
    const user = this.user();
    mailbox.unwatch = this.ctx.watchers.watch(mailbox.id, this);
    this.state = { kind: 'selected', user, mailbox };
  }

  leaveSelected(): void {
    if (this.state.kind === 'selected') {
      this.state.mailbox.unwatch();
      this.state = { kind: 'authenticated', user: this.state.user };
    }
  }

  onMailboxChange(change: MailboxChange): void {
    if (this.state.kind !== 'selected' || this.state.mailbox.id !== change.mailboxId) return;
    this.state.mailbox.onChange(change);
    if (this.idling) this.conn.poke();
  }

  /** Sends pending mailbox updates (see selected.ts for when expunges may go out). */
  async sync(expunges: boolean, force = false): Promise<void> {
    if (this.state.kind !== 'selected') return;
    try {
      await this.syncSelected(expunges, force);
    } catch (err) {
      if (!isStoreError(err, 'notFound')) throw err;
      // Another session deleted the mailbox under us; like Dovecot, say so and close.
      this.send('* BYE Selected mailbox was deleted');
      this.leaveSelected();
      this.state = { kind: 'logout' };
    }
  }

  private async syncSelected(expunges: boolean, force: boolean): Promise<void> {
    if (this.state.kind !== 'selected') return;
    await this.state.mailbox.sync(
      this.store,
      {
        expunges,
        condstore: this.condstore,
        qresync: this.qresync,
        send: (l) => this.send(l),
        formatFlags: (f, uid) => this.formatFlags(f, uid),
        sendRecent: !this.rev2,
      },
      force,
    );
  }

  // ---------------------------------------------------------------- the loop

  async run(): Promise<void> {
    this.log.debug({ secure: this.conn.secure }, 'imap connect');
    this.resetTimer();
    this.send(`* OK [CAPABILITY ${this.capabilityList().join(' ')}] ${this.ctx.service.config.hostname} mailroom IMAP ready`);
    try {
      while (this.state.kind !== 'logout' && !this.conn.isClosed) {
        const ev = await this.conn.next();
        this.resetTimer();
        if (ev.kind === 'eof') break;
        switch (ev.kind) {
          case 'continue':
            this.send('+ Ready for literal data');
            await this.conn.flush();
            break;
          case 'bad':
            // A command refused mid-way leaves no streamed APPEND behind for the next one.
            this.streamed?.stream.destroy();
            this.streamed = null;
            await this.respond(ev.tag, this.readerRefusal(ev));
            if (ev.fatal) {
              this.send('* BYE Too much data');
              this.state = { kind: 'logout' };
            }
            break;
          case 'streamStart':
            this.startStream(ev.literal);
            break;
          case 'streamData':
            if (this.streamed && !this.streamed.stream.write(ev.data)) {
              const s = this.streamed.stream;
              await new Promise<void>((r) => {
                s.once('drain', r);
                s.once('close', r);
              });
            }
            break;
          case 'streamEnd':
            this.streamed?.stream.end();
            break;
          case 'command':
            await this.execute(ev.frame);
            break;
        }
      }
    } catch (err) {
      this.log.error({ err }, 'imap session failed');
    } finally {
      await this.close();
    }
  }

  private readerRefusal(ev: { text: string; code?: string; no?: boolean }): Done {
    // An APPEND over the limit is NO [TOOBIG] (RFC 7889); other oversize input is BAD.
    return { status: ev.no ? 'NO' : 'BAD', code: ev.code, text: ev.text };
  }

  private startStream(literal: LiteralInfo): void {
    const stream = new PassThrough({ highWaterMark: 256 * 1024 });
    const result = this.ctx.ingest(stream, this.ctx.appendLimit);
    result.catch(() => {}); // awaited by APPEND; a refused command leaves an orphan blob for GC
    this.streamed = { stream, result, literal };
  }

  /** The streamed APPEND literal of the command being run. */
  takeStreamed(): Promise<IngestResult> {
    const s = this.streamed;
    this.streamed = null;
    if (!s) throw new ParseError('No message literal');
    return s.result;
  }

  private resetTimer(): void {
    const authed = this.state.kind === 'authenticated' || this.state.kind === 'selected';
    const seconds = authed ? this.ctx.timeout : Math.min(PREAUTH_TIMEOUT_S, this.ctx.timeout);
    this.conn.setTimeout(seconds * 1000, () => {
      this.send('* BYE Autologout; idle for too long');
      this.state = { kind: 'logout' };
      void this.conn.end();
    });
  }

  private async execute(frame: Frame): Promise<void> {
    const tag = frame.tag;
    const c = new Cursor(frame, tag.length);
    let name = '';
    try {
      c.sp();
      name = c.atom('a command name').toUpperCase();
      if (name === 'UID') {
        c.sp();
        name = 'UID ' + c.atom('a command name').toUpperCase();
      }
    } catch {
      await this.respond(tag, { status: 'BAD', text: 'Missing command' });
      return;
    }
    if (this.state.kind === 'notAuthenticated' && this.looksLikeHttp(frame)) {
      // A browser or proxy on the IMAP port: no point answering each header line.
      this.send('* BYE This is an IMAP server');
      this.state = { kind: 'logout' };
      return;
    }

    if (this.state.kind === 'notAuthenticated' && ++this.state.commands > MAX_COMMANDS_BEFORE_LOGIN) {
      this.send('* BYE Too many commands before login');
      this.state = { kind: 'logout' };
      return;
    }

    const cmd = commandTable.get(name);
    let done: Done;
    try {
      if (!cmd) throw errors.unknownCommand(name);
      if (!cmd.states.includes(this.state.kind)) throw errors.wrongState();
      const args = cmd.parse(c, this);
      c.end();
      done = (await cmd.run(this, args, tag)) ?? { text: `${name} completed` };
      // Untagged updates before the tagged completion (RFC 3501 7.4.1 for when EXPUNGE may go).
      if (this.state.kind === 'selected' && cmd.syncAfter !== false) await this.sync(cmd.expungeOk !== false);
    } catch (err) {
      const e: ImapError | null = toImapError(err);
      if (!e) this.log.error({ err, command: name }, 'imap command failed');
      done = e ? { status: e.status, code: e.code ?? undefined, text: e.message } : { status: 'NO', code: 'SERVERBUG', text: 'Internal error' };
      if (this.streamed && name === 'APPEND') this.streamed = null;
    }
    if (!done.silent) await this.respond(tag, done);
    if (done.status === 'BAD') {
      if (++this.badInARow >= MAX_BAD_IN_A_ROW) {
        this.send('* BYE Too many invalid commands');
        this.state = { kind: 'logout' };
      }
    } else this.badInARow = 0;
    if (this.state.kind === 'notAuthenticated' && this.state.failures >= MAX_LOGIN_FAILURES) {
      this.send('* BYE Too many failed logins');
      this.state = { kind: 'logout' };
    }
  }

  private looksLikeHttp(frame: Frame): boolean {
    return /^(GET|POST|HEAD|PUT|OPTIONS|CONNECT) \S+ HTTP\/1/i.test(frame.bytes.toString('latin1', 0, 100));
  }

  private async respond(tag: string, done: Done): Promise<void> {
    const status = done.status ?? 'OK';
    const code = done.code ? `[${done.code}] ` : '';
    this.send(`${tag} ${status} ${code}${done.text}`);
    await this.conn.flush();
  }

  /** Switches to authenticated after a successful login. */
  loggedIn(user: User): void {
    this.state = { kind: 'authenticated', user };
    // Literals other than the APPEND message (names, search strings) may be bigger now.
    this.conn.reader.limits.maxInlineLiteral = INLINE_LITERAL_AFTER_LOGIN;
    this.log = this.log.child({ user: user.login });
    this.log.info('imap login');
    this.resetTimer();
  }

  private async close(): Promise<void> {
    this.leaveSelected();
    this.streamed?.stream.destroy();
    this.streamed = null;
    await this.conn.end();
    this.log.debug({ bytesOut: this.conn.bytesOut }, 'imap disconnect');
  }
}
