/**
 * One SMTP client connection to a remote host, on nodemailer's SMTPConnection,
 * turned into promises that always settle and outcomes that are already
 * classified for the queue (per recipient: delivered, temporary, permanent).
 *
 * nodemailer reports a connection that dies in the middle of a command through
 * an 'error'/'end' event and never calls that command's callback; this wrapper
 * keeps one pending operation and fails it on either event, so no delivery
 * waits forever on a remote that closed or hung (the socket timeout fires).
 *
 * Rules kept:
 * - Every failure becomes an SMTP-style reply with an enhanced status: the
 *   remote's own reply when it sent one, else ours ("451 4.4.1 connect to …").
 * - A reply without a valid code (garbage) is temporary: the queue treats an
 *   unclassified failure as temporary, as maddy does.
 * - Whether the message body went out is tracked: a connection lost after the
 *   final dot may have delivered, so the caller must not try another host at once.
 */
import { PassThrough, type Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { replyCode } from '../../core/dsn.js';

export type TlsMode = 'opportunistic' | 'required' | 'implicit' | 'none';

export interface ConnectOptions {
  /** IP address (or name, for smarthosts) to connect to. */
  address: string;
  port: number;
  /** Host name for logs, SNI and certificate checks. */
  hostname: string;
  tls: TlsMode;
  /** Check the remote certificate (smarthosts unless insecure); opportunistic TLS never does. */
  verifyCertificate: boolean;
  /** Our EHLO name. */
  heloName: string;
  /** Milliseconds to wait for each reply (and for the connection). */
  timeoutMs: number;
  auth?: { user: string; pass: string };
}

export type Stage = 'connect' | 'greeting' | 'ehlo' | 'starttls' | 'auth' | 'mail' | 'rcpt' | 'data' | 'message';

export interface Failure {
  temporary: boolean;
  /** One line: the remote reply, or our own diagnostic with a code and enhanced status. */
  reply: string;
  stage: Stage;
  /** The remote sent this reply (vs. a network/DNS/TLS failure we describe ourselves). */
  fromRemote: boolean;
  /** The TLS handshake (STARTTLS or implicit) failed. */
  tlsFailed: boolean;
}

export interface RecipientOutcome {
  ok: boolean;
  temporary: boolean;
  reply: string;
  fromRemote: boolean;
}

export interface TransactionOutcome {
  /** Per recipient address as given. */
  recipients: Map<string, RecipientOutcome>;
  /** The connection can carry another transaction. */
  reusable: boolean;
  /** Failed before any recipient was accepted, for a reason another MX host may not share. */
  tryNextHost: boolean;
  /** The whole message was written to the remote (its fate may be unknown if the connection then died). */
  bodySent: boolean;
}

export interface Envelope {
  from: string;
  to: string[];
  /** RFC 3461 parameters passed on when the remote speaks DSN. */
  dsn?: { ret?: 'FULL' | 'HDRS' | null; envid?: string | null; notify?: string | null; orcpt?: string | null };
  size?: number;
  eightBit?: boolean;
}

type SmtpError = Error & { code?: string; response?: string; responseCode?: number; command?: string };

/** One line, printable: multi-line replies joined with spaces. */
export function oneLine(s: string): string {
  return s
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ')
    .replace(/[\x00-\x1f\x7f]/g, ' ')
    .slice(0, 2000);
}

const STAGE_OF_COMMAND: Record<string, Stage> = {
  CONN: 'connect',
  EHLO: 'ehlo',
  HELO: 'ehlo',
  LHLO: 'ehlo',
  STARTTLS: 'starttls',
  'MAIL FROM': 'mail',
  'RCPT TO': 'rcpt',
  DATA: 'data',
  RSET: 'mail',
};

function stageOf(err: SmtpError, fallback: Stage): Stage {
  if (err.command?.startsWith('AUTH')) return 'auth';
  return (err.command && STAGE_OF_COMMAND[err.command]) || fallback;
}

const IN_REPLY_TO: Record<Stage, string> = {
  connect: 'while connecting',
  greeting: 'in reply to the greeting',
  ehlo: 'in reply to EHLO',
  starttls: 'in reply to STARTTLS',
  auth: 'in reply to AUTH',
  mail: 'in reply to MAIL FROM',
  rcpt: 'in reply to RCPT TO',
  data: 'in reply to DATA',
  message: 'in reply to end of DATA',
};

/** Classify a nodemailer error. */
export function classify(err: SmtpError, where: string, fallbackStage: Stage): Failure {
  let stage = stageOf(err, fallbackStage);
  const response = err.response ? oneLine(err.response) : '';
  const code = replyCode(response);
  if (err.code === 'ETLS' || (err as { tlsHandshake?: boolean }).tlsHandshake) {
    return { temporary: true, reply: `451 4.7.5 TLS handshake with ${where} failed: ${oneLine(err.message)}`, stage: 'starttls', fromRemote: false, tlsFailed: true };
  }
  if (code !== null && code >= 400) {
    if (stage === 'connect' && /greeting/i.test(err.message)) stage = 'greeting';
    return { temporary: code < 500, reply: `${response} (${IN_REPLY_TO[stage]})`, stage, fromRemote: true, tlsFailed: false };
  }
  if (response) {
    // A reply that is no reply: garbage, or a 2xx/3xx where a failure was reported.
    return { temporary: true, reply: `451 4.5.0 Protocol error: ${where} said: ${response} (${IN_REPLY_TO[stage]})`, stage, fromRemote: false, tlsFailed: false };
  }
  if (err.code === 'EMESSAGE' && /size larger/i.test(err.message)) {
    return { temporary: false, reply: `552 5.3.4 Message too big for ${where}: ${err.message}`, stage: 'mail', fromRemote: false, tlsFailed: false };
  }
  const msg = oneLine(err.message || String(err));
  if (err.code === 'ETIMEDOUT') {
    if (/greeting/i.test(msg)) stage = 'greeting';
    return { temporary: true, reply: `451 4.4.2 Timed out talking to ${where} (${IN_REPLY_TO[stage]})`, stage, fromRemote: false, tlsFailed: false };
  }
  if (stage === 'connect' && /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL|connect/i.test(msg) && !/closed unexpectedly/i.test(msg)) {
    return { temporary: true, reply: `451 4.4.1 connect to ${where}: ${msg}`, stage, fromRemote: false, tlsFailed: false };
  }
  return { temporary: true, reply: `451 4.4.2 Lost connection with ${where} (${IN_REPLY_TO[stage]}): ${msg}`, stage, fromRemote: false, tlsFailed: false };
}

const NOTIFY_RE = /^(NEVER|((SUCCESS|FAILURE|DELAY)(,(SUCCESS|FAILURE|DELAY))*))$/i;

export class OutboundConnection {
  /** Transactions completed on this connection. */
  transactions = 0;
  private pending: ((err: SmtpError) => void) | null = null;
  private dead = false;
  private lastError: SmtpError | null = null;
  private dirty = false;
  /** Settles when the socket is gone (after QUIT, a close, or a failure). */
  readonly closed: Promise<void>;

  private constructor(
    private readonly conn: SMTPConnection,
    readonly options: ConnectOptions,
    readonly where: string,
  ) {
    conn.on('error', (err: SmtpError) => {
      // A socket error while STARTTLS is upgrading (or before an implicit-TLS session is up) is a failed handshake.
      const c = conn as unknown as { upgrading?: boolean; secureConnection?: boolean; stage?: string };
      if (c.upgrading || (c.secureConnection && c.stage === 'init') || (err as { library?: string }).library === 'SSL routines') {
        (err as { tlsHandshake?: boolean }).tlsHandshake = true;
      }
      this.lastError = err;
      this.dead = true;
      this.fail(err);
    });
    this.closed = new Promise<void>((res) => conn.once('end', () => res()));
    conn.on('end', () => {
      this.dead = true;
      const err: SmtpError = this.lastError ?? Object.assign(new Error('Connection closed unexpectedly'), { code: 'ECONNECTION' });
      this.fail(err);
    });
  }

  private fail(err: SmtpError): void {
    const p = this.pending;
    this.pending = null;
    p?.(err);
  }

  /** Run one nodemailer operation; settles on its callback or on the connection's death. */
  private run<T>(start: (cb: (err: SmtpError | null, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.dead) return reject(this.lastError ?? Object.assign(new Error('Connection closed'), { code: 'ECONNECTION' }));
      let settled = false;
      const settle = (err: SmtpError | null, value?: T) => {
        if (settled) return;
        settled = true;
        if (this.pending === onDeath) this.pending = null;
        if (err) reject(err);
        else resolve(value as T);
      };
      const onDeath = (err: SmtpError) => settle(err);
      this.pending = onDeath;
      try {
        start(settle);
      } catch (err) {
        settle(err as SmtpError);
      }
    });
  }

  /** Connect, greet, EHLO, STARTTLS as the mode says, AUTH if configured. Rejects with a Failure. */
  static async open(options: ConnectOptions): Promise<OutboundConnection> {
    const where = options.address === options.hostname ? `${options.hostname}:${options.port}` : `${options.hostname}[${options.address}]:${options.port}`;
    const conn = new SMTPConnection({
      host: options.address,
      port: options.port,
      name: options.heloName,
      secure: options.tls === 'implicit',
      ignoreTLS: options.tls === 'none',
      requireTLS: options.tls === 'required',
      opportunisticTLS: options.tls === 'opportunistic',
      connectionTimeout: Math.min(options.timeoutMs, 60_000),
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
      dnsTimeout: Math.min(options.timeoutMs, 30_000),
      allowInternalNetworkInterfaces: true,
      tls: {
        servername: options.hostname,
        rejectUnauthorized: options.verifyCertificate,
        minVersion: 'TLSv1.2',
      },
    } as SMTPConnection.Options);
    const c = new OutboundConnection(conn, options, where);
    try {
      await c.run<void>((cb) => conn.connect(() => cb(null)));
    } catch (err) {
      c.destroy();
      throw classify(err as SmtpError, where, 'connect');
    }
    if (options.auth) {
      try {
        await c.run<void>((cb) => conn.login({ credentials: { user: options.auth!.user, pass: options.auth!.pass } } as never, (err) => cb(err as SmtpError | null)));
      } catch (err) {
        c.destroy();
        const f = classify(err as SmtpError, where, 'auth');
        // A refused login is the administrator's to fix, not the sender's fault: keep the mail (Postfix soft-bounces too).
        throw { ...f, temporary: true, stage: 'auth' } satisfies Failure;
      }
    }
    return c;
  }

  get secure(): boolean {
    return (this.conn as unknown as { secure: boolean }).secure === true;
  }

  get supportsDsn(): boolean {
    return ((this.conn as unknown as { _supportedExtensions: string[] })._supportedExtensions ?? []).includes('DSN');
  }

  get usable(): boolean {
    return !this.dead;
  }

  /**
   * One mail transaction. Never rejects: every recipient gets an outcome.
   * `body` is consumed (or destroyed) whatever happens.
   */
  async send(envelope: Envelope, body: Readable): Promise<TransactionOutcome> {
    const recipients = new Map<string, RecipientOutcome>();
    if (this.dirty) {
      try {
        await this.run<boolean>((cb) => this.conn.reset(((err: SmtpError | null) => cb(err ?? null, true)) as never));
        this.dirty = false;
      } catch (err) {
        body.destroy();
        const f = classify(err as SmtpError, this.where, 'mail');
        for (const to of envelope.to) recipients.set(to, { ok: false, temporary: true, reply: f.reply, fromRemote: f.fromRemote });
        this.destroy();
        return { recipients, reusable: false, tryNextHost: true, bodySent: false };
      }
    }
    // Watch the body go by: nodemailer pipes it on only after DATA got its 354
    // (or drains it when the envelope failed), which tells us the stage.
    const flow = { started: false, ended: false };
    const watched = body.pipe(new PassThrough());
    const pipe = watched.pipe.bind(watched);
    watched.pipe = ((dest: NodeJS.WritableStream, o?: { end?: boolean }) => {
      flow.started = true;
      return pipe(dest, o);
    }) as typeof watched.pipe;
    watched.once('end', () => (flow.ended = true));
    body.once('error', (e) => watched.destroy(e));
    const dsn = this.dsnParams(envelope);
    try {
      const info = await this.run<SMTPConnection.SentMessageInfo>((cb) =>
        this.conn.send(
          { from: envelope.from, to: envelope.to, size: envelope.size, use8BitMime: envelope.eightBit, dsn } as never,
          watched,
          (err, info) => cb(err as SmtpError | null, info),
        ),
      );
      const reply = oneLine(String(info.response ?? '250 OK'));
      const rejected = new Map<string, SmtpError>();
      for (const e of (info as { rejectedErrors?: SmtpError[] }).rejectedErrors ?? []) rejected.set((e as { recipient?: string }).recipient ?? '', e);
      for (const to of envelope.to) {
        const e = rejected.get(to);
        if (e) recipients.set(to, this.recipientFailure(e, 'rcpt'));
        else recipients.set(to, { ok: true, temporary: false, reply, fromRemote: true });
      }
      this.transactions++;
      return { recipients, reusable: this.usable, tryNextHost: false, bodySent: true };
    } catch (e) {
      body.destroy();
      watched.destroy();
      const err = e as SmtpError & { rejectedErrors?: SmtpError[] };
      const envelopeFailed = err.code === 'EENVELOPE';
      const bodySent = flow.ended && !envelopeFailed;
      // Where were we? nodemailer says CONN for a socket that died or timed out at any point.
      let stage: Stage;
      if (err.code === 'EMESSAGE' && err.command === 'DATA') stage = 'message';
      else if (err.command && err.command !== 'CONN') stage = stageOf(err, 'mail');
      else stage = bodySent ? 'message' : flow.started && !envelopeFailed ? 'data' : this.envelopePhase();
      const f = classify({ ...err, message: err.message, command: undefined } as SmtpError, this.where, stage);
      const perRcpt = new Map<string, SmtpError>();
      const env = (this.conn as unknown as { _envelope?: { rejectedErrors?: SmtpError[] } })._envelope;
      for (const r of err.rejectedErrors ?? env?.rejectedErrors ?? []) perRcpt.set((r as { recipient?: string }).recipient ?? '', r);
      for (const to of envelope.to) {
        const r = perRcpt.get(to);
        recipients.set(to, r ? this.recipientFailure(r, 'rcpt') : { ok: false, temporary: f.temporary, reply: f.reply, fromRemote: f.fromRemote });
      }
      this.dirty = true;
      const connectionLevel = !f.fromRemote || replyCode(err.response) === 421;
      if (connectionLevel) this.destroy();
      return {
        recipients,
        reusable: this.usable && !connectionLevel,
        // Another MX may do better when this one failed before taking the message: a lost connection,
        // a 421, or a temporary refusal of MAIL FROM. Never once the body went out.
        tryNextHost: !bodySent && f.temporary && (connectionLevel || stage === 'mail'),
        bodySent,
      };
    }
  }

  /** MAIL or RCPT: whether nodemailer had started on recipients when the connection died. */
  private envelopePhase(): Stage {
    const env = (this.conn as unknown as { _envelope?: { accepted?: string[]; rejected?: string[]; rcptQueue?: string[]; to?: string[] } })._envelope;
    if (!env || !env.to) return 'mail';
    const answered = (env.accepted?.length ?? 0) + (env.rejected?.length ?? 0);
    const queued = env.rcptQueue?.length ?? env.to.length;
    return answered > 0 || queued < env.to.length ? 'rcpt' : 'mail';
  }

  private recipientFailure(e: SmtpError, stage: Stage): RecipientOutcome {
    const f = classify(e, this.where, stage);
    return { ok: false, temporary: f.temporary, reply: f.reply, fromRemote: f.fromRemote };
  }

  /** DSN parameters nodemailer accepts; anything malformed is dropped rather than failing the send. */
  private dsnParams(envelope: Envelope): Record<string, string> | undefined {
    const d = envelope.dsn;
    if (!d) return undefined;
    const out: Record<string, string> = {};
    if (d.ret === 'FULL' || d.ret === 'HDRS') out.ret = d.ret;
    if (d.envid) out.envid = d.envid;
    if (d.notify && NOTIFY_RE.test(d.notify)) out.notify = d.notify.toUpperCase();
    if (d.orcpt && d.orcpt.includes(';')) out.orcpt = d.orcpt;
    return Object.keys(out).length ? out : undefined;
  }

  /** Polite close. */
  quit(): void {
    if (this.dead) return;
    this.dead = true;
    try {
      this.conn.quit();
    } catch {
      this.conn.close();
    }
    // A remote that never answers QUIT must not keep the socket.
    setTimeout(() => this.conn.close(), 2000).unref();
  }

  destroy(): void {
    this.dead = true;
    try {
      this.conn.close();
    } catch {
      /* already closed */
    }
  }
}
