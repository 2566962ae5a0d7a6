/**
 * The IMAP command reader: bytes in, complete commands out (RFC 3501 2.2, 4.3;
 * RFC 7888 LITERAL+/LITERAL-; RFC 3516 literal8). Pure: no sockets, no timers;
 * the session pushes what the socket gave and pulls events one at a time, so a
 * decision (send "+", refuse a literal) is taken before any later byte is read.
 *
 * Rules it keeps:
 * - A line is bounded (maxLine); past it the rest of the command is discarded
 *   up to its CRLF and the client gets BAD, the session goes on.
 * - A literal is refused before a single byte of it is read: a synchronizing
 *   one by answering BAD instead of "+" (the client then sends nothing more
 *   for that command); a non-synchronizing one by BAD [TOOBIG] and discarding
 *   exactly its announced bytes (RFC 7888 4), or closing when absurdly large.
 * - The APPEND message literal may be streamed (never held whole in memory):
 *   the session's `streamLiteral` policy says so from the bytes seen so far.
 * - Raw lines (AUTHENTICATE responses, IDLE's DONE) are read in line mode.
 */

const CR = 0x0d;
const LF = 0x0a;

export interface ReaderLimits {
  /** Longest line (bytes between CRLFs, literal data excluded). */
  maxLine: number;
  /** Largest literal that is buffered into the command (mailbox names, search strings...). */
  maxInlineLiteral: number;
  /** Largest literal that may be streamed (the APPEND message). */
  maxStreamLiteral: number;
  /** Largest total of buffered bytes in one command. */
  maxCommand: number;
  /** Largest non-synchronizing literal accepted at all (RFC 7888 LITERAL- is 4096). */
  maxNonSyncLiteral: number;
}

export const defaultLimits: ReaderLimits = {
  maxLine: 64 * 1024,
  maxInlineLiteral: 64 * 1024,
  maxStreamLiteral: 50 * 1024 * 1024,
  maxCommand: 1024 * 1024,
  maxNonSyncLiteral: 50 * 1024 * 1024,
};

/** A complete command in wire form (literals inline as `{n}\r\n<data>`), without its final CRLF. */
export interface Frame {
  tag: string;
  bytes: Buffer;
  /** Offset in bytes where a streamed literal's data would have stood (its data is not in bytes). */
  streamedAt?: number;
}

export interface LiteralInfo {
  size: number;
  /** Needs a "+" continuation before the client sends it. */
  sync: boolean;
  /** literal8 (`~{n}`), RFC 3516. */
  binary: boolean;
}

export type ReaderEvent =
  | { kind: 'command'; frame: Frame }
  /** A synchronizing literal was accepted: the session must send a continuation request now. */
  | { kind: 'continue' }
  /** The command was refused by the reader; the session answers BAD (tag '*' when none). */
  | {
      kind: 'bad';
      tag: string;
      text: string;
      code?: string;
      /** close the connection after answering */
      fatal?: boolean;
      /** An APPEND message over the limit is a NO [TOOBIG] (RFC 7889), not a syntax error. */
      no?: boolean;
    }
  /** Start of a streamed literal (see ReaderOptions.streamLiteral). */
  | { kind: 'streamStart'; tag: string; prefix: Buffer; literal: LiteralInfo }
  | { kind: 'streamData'; data: Buffer }
  | { kind: 'streamEnd' };

export type LineEvent = { kind: 'line'; text: Buffer } | { kind: 'tooLong' };

export interface ReaderOptions {
  limits?: Partial<ReaderLimits>;
  /**
   * Whether the literal announced at the end of `prefix` (the command so far,
   * wire form, ending just before the literal's data) should be streamed
   * rather than buffered. Streamed literals may be up to maxStreamLiteral.
   */
  streamLiteral?: (prefix: Buffer, literal: LiteralInfo) => boolean;
}

type State =
  | { kind: 'line' }
  /** Inside a buffered literal: `left` bytes still to copy into the command. */
  | { kind: 'literal'; left: number }
  | { kind: 'stream'; left: number }
  /** Throwing bytes away: a refused non-sync literal, then the rest of that command. */
  | { kind: 'discardLiteral'; left: number }
  | { kind: 'discardCommand' }
  /** After a fatal error: the connection is closing, nothing more is read. */
  | { kind: 'closed' };

const literalAnnounce = /(~?)\{(\d{1,20})(\+)?\}$/;
const tagChars = /^[\x21\x23\x24\x26\x27\x2c-\x5a\x5e-\x7a\x7c\x7e]+$/; // ASTRING-CHAR minus '+'

export function extractTag(line: Buffer): string | null {
  const sp = line.indexOf(0x20);
  const tag = line.subarray(0, sp < 0 ? Math.min(line.length, 64) : Math.min(sp, 64)).toString('latin1');
  return tagChars.test(tag) ? tag : null;
}

export class CommandReader {
  readonly limits: ReaderLimits;
  private readonly streamPolicy: ReaderOptions['streamLiteral'];
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private state: State = { kind: 'line' };
  /** Pieces of the command being assembled. */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private streamedAt: number | undefined;
  /** Bytes of the current line seen so far (for the line bound). */
  private lineStart = 0;
  private pendingEvents: ReaderEvent[] = [];
  /** Once the line is too long we skip to its LF and only then report. */
  private overlong = false;
  private overlongHead: Buffer | undefined;

  constructor(opts: ReaderOptions = {}) {
    this.limits = { ...defaultLimits, ...opts.limits };
    this.streamPolicy = opts.streamLiteral;
  }

  /** Bytes received but not yet consumed (for backpressure). */
  get buffered(): number {
    return this.buf.length - this.pos;
  }

  push(chunk: Buffer): void {
    // In line state nothing before pos is still needed (pos == lineStart), so compact.
    const rest = this.buf.length - this.pos;
    this.buf = rest > 0 ? Buffer.concat([this.buf.subarray(this.pos), chunk]) : chunk;
    this.pos = 0;
    this.lineStart = 0;
  }

  /** Drops everything buffered and any half-read command (after STARTTLS: RFC 3501 11.1). */
  reset(): void {
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    this.lineStart = 0;
    this.state = { kind: 'line' };
    this.parts = [];
    this.partsBytes = 0;
    this.streamedAt = undefined;
    this.pendingEvents = [];
    this.overlong = false;
    this.overlongHead = undefined;
  }

  /** Removes and returns the unread bytes (COMPRESS: they must go through the inflater first). */
  takeBuffered(): Buffer {
    const rest = Buffer.from(this.buf.subarray(this.pos));
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    this.lineStart = 0;
    return rest;
  }

  /** Whether a command has been started but not finished. */
  get midCommand(): boolean {
    return this.parts.length > 0 || this.state.kind !== 'line';
  }

  /**
   * Reads one raw line (without CRLF) outside command syntax. Only valid between
   * commands (the session uses it while a command waits for client data).
   */
  nextLine(): LineEvent | null {
    const lf = this.buf.indexOf(LF, this.pos);
    if (lf < 0) {
      if (this.buffered > this.limits.maxLine) {
        // Keep waiting for the LF but drop what we hold; the caller fails the exchange.
        this.pos = this.buf.length;
        this.lineStart = this.pos;
        this.overlong = true;
      }
      return null;
    }
    let end = lf;
    if (end > this.pos && this.buf[end - 1] === CR) end--;
    const text = this.buf.subarray(this.pos, end);
    this.pos = lf + 1;
    this.lineStart = this.pos;
    if (this.overlong || text.length > this.limits.maxLine) {
      this.overlong = false;
      return { kind: 'tooLong' };
    }
    return { kind: 'line', text: Buffer.from(text) };
  }

  next(): ReaderEvent | null {
    for (;;) {
      const queued = this.pendingEvents.shift();
      if (queued) return queued;
      if (this.pos >= this.buf.length) return null;
      const ev = this.step();
      if (ev === 'more') return null;
      if (ev !== 'again') return ev;
    }
  }

  /** Advances by one unit of work: an event, 'again' to keep going, 'more' when bytes are needed. */
  private step(): ReaderEvent | 'again' | 'more' {
    const st = this.state;
    switch (st.kind) {
      case 'literal': {
        const n = Math.min(st.left, this.buf.length - this.pos);
        this.addPart(this.buf.subarray(this.pos, this.pos + n));
        this.pos += n;
        st.left -= n;
        if (st.left === 0) this.state = { kind: 'line' };
        this.lineStart = this.pos;
        return 'again';
      }
      case 'stream': {
        const n = Math.min(st.left, this.buf.length - this.pos);
        const data = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
        this.pos += n;
        st.left -= n;
        this.lineStart = this.pos;
        if (st.left === 0) {
          this.state = { kind: 'line' };
          this.pendingEvents.push({ kind: 'streamEnd' });
        }
        return n > 0 ? { kind: 'streamData', data } : 'again';
      }
      case 'discardLiteral': {
        const n = Math.min(st.left, this.buf.length - this.pos);
        this.pos += n;
        st.left -= n;
        this.lineStart = this.pos;
        if (st.left === 0) this.state = { kind: 'discardCommand' };
        return 'again';
      }
      case 'discardCommand':
      case 'line':
        return this.scanLine(st.kind === 'discardCommand');
      case 'closed':
        this.pos = this.buf.length;
        return 'more';
    }
  }

  private scanLine(discarding: boolean): ReaderEvent | 'again' | 'more' {
    const lf = this.buf.indexOf(LF, this.pos);
    if (lf < 0) {
      if (!this.overlong && this.buf.length - this.lineStart > this.limits.maxLine) {
        // Too long: keep the head (for the tag), skip to the LF, then answer BAD.
        this.overlong = true;
        if (this.parts.length === 0) this.overlongHead = Buffer.from(this.buf.subarray(this.lineStart, this.lineStart + 64));
      }
      if (this.overlong || discarding) {
        this.pos = this.buf.length;
        this.lineStart = this.pos;
      }
      return 'more';
    }
    let end = lf;
    if (end > this.lineStart && this.buf[end - 1] === CR) end--;
    const line = this.buf.subarray(this.lineStart, end);
    this.pos = lf + 1;
    this.lineStart = this.pos;

    if (this.overlong || line.length > this.limits.maxLine) {
      const tag = this.currentTag(this.overlongHead ?? line);
      this.overlong = false;
      this.overlongHead = undefined;
      this.dropCommand();
      this.state = { kind: 'line' };
      if (discarding) return 'again';
      return { kind: 'bad', tag, text: 'Command line too long', code: 'TOOBIG' };
    }

    const m = literalAnnounce.exec(line.toString('latin1', Math.max(0, line.length - 26)));
    if (discarding) {
      if (m && m[3] === '+') {
        const size = Number(m[2]);
        this.state = { kind: 'discardLiteral', left: size };
      } else {
        this.state = { kind: 'line' };
        this.dropCommand();
      }
      return 'again';
    }

    if (!m) {
      // End of the command.
      this.addPart(line);
      return this.finishCommand();
    }

    const literal: LiteralInfo = { size: Number(m[2]), sync: m[3] === undefined, binary: m[1] === '~' };
    const tag = this.currentTag(line);
    this.addPart(line);
    this.addPart(Buffer.from('\r\n'));
    const prefix = Buffer.concat(this.parts);
    const stream = this.streamPolicy?.(prefix, literal) ?? false;
    const limit = stream ? this.limits.maxStreamLiteral : this.limits.maxInlineLiteral;
    if (!Number.isSafeInteger(literal.size) || literal.size > limit || (!stream && this.partsBytes + literal.size > this.limits.maxCommand)) {
      return this.refuseLiteral(tag, literal, stream ? 'Message too large' : 'Literal too large', stream);
    }
    if (!literal.sync && literal.size > this.limits.maxNonSyncLiteral) {
      return this.refuseLiteral(tag, literal, 'Non-synchronizing literal too large', stream);
    }
    if (stream) {
      this.streamedAt = this.partsBytes;
      this.state = { kind: 'stream', left: literal.size };
      if (literal.size === 0) {
        this.state = { kind: 'line' };
      }
      const ev: ReaderEvent = { kind: 'streamStart', tag, prefix, literal };
      if (literal.sync) this.pendingEvents.push({ kind: 'continue' });
      if (literal.size === 0) this.pendingEvents.push({ kind: 'streamEnd' });
      return ev;
    }
    this.state = literal.size > 0 ? { kind: 'literal', left: literal.size } : { kind: 'line' };
    return literal.sync ? { kind: 'continue' } : 'again';
  }

  private refuseLiteral(tag: string, literal: LiteralInfo, text: string, no = false): ReaderEvent {
    this.dropCommand();
    const ev = { kind: 'bad' as const, tag, text, code: 'TOOBIG', ...(no ? { no: true } : {}) };
    if (literal.sync) {
      // The client waits for "+" and will send nothing of this literal: the command is over.
      this.state = { kind: 'line' };
      return ev;
    }
    if (literal.size > 2 * this.limits.maxStreamLiteral || !Number.isSafeInteger(literal.size)) {
      this.state = { kind: 'closed' };
      this.buf = Buffer.alloc(0);
      this.pos = 0;
      this.lineStart = 0;
      return { ...ev, fatal: true };
    }
    this.state = { kind: 'discardLiteral', left: literal.size };
    return ev;
  }

  private currentTag(line: Buffer): string {
    const first = this.parts.length > 0 ? this.parts[0]! : line;
    return extractTag(first) ?? '*';
  }

  private addPart(b: Buffer): void {
    if (b.length === 0) return;
    // Copy: the input buffer is reused by later pushes.
    this.parts.push(Buffer.from(b));
    this.partsBytes += b.length;
  }

  private dropCommand(): void {
    this.parts = [];
    this.partsBytes = 0;
    this.streamedAt = undefined;
  }

  private finishCommand(): ReaderEvent | 'again' {
    const bytes = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    const streamedAt = this.streamedAt;
    this.dropCommand();
    if (bytes.length === 0) return 'again'; // empty line: ignore, as Dovecot does
    const tag = extractTag(bytes);
    if (tag === null) {
      return { kind: 'bad', tag: '*', text: 'Missing or invalid tag' };
    }
    const frame: Frame = { tag, bytes };
    if (streamedAt !== undefined) frame.streamedAt = streamedAt;
    return { kind: 'command', frame };
  }
}
