/**
 * Argument syntax of RFC 3501 / RFC 9051 section 9 (formal syntax), read from a
 * complete command frame. Every command's `parse` walks a Cursor; any mismatch
 * throws ParseError, which the session turns into a tagged BAD.
 */
import type { Frame } from './reader.js';

export class ParseError extends Error {
  constructor(
    message: string,
    /** A response code to carry, e.g. BADCHARSET. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ParseError';
  }
}

/** A literal whose data went to a stream instead of into the frame (the APPEND message). */
export interface StreamedLiteral {
  streamed: true;
  size: number;
  binary: boolean;
}

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

/** atom-specials: "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials */
function isAtomChar(c: number): boolean {
  if (c <= 0x20 || c === 0x7f) return false;
  return c !== 0x28 && c !== 0x29 && c !== 0x7b && c !== 0x25 && c !== 0x2a && c !== DQUOTE && c !== BACKSLASH && c !== 0x5d;
}

/** ASTRING-CHAR: ATOM-CHAR / resp-specials (']'). 8-bit bytes are allowed for UTF-8 names (RFC 6855). */
function isAstringChar(c: number): boolean {
  return isAtomChar(c) || c === 0x5d;
}

/** list-char: ATOM-CHAR / list-wildcards / resp-specials */
function isListChar(c: number): boolean {
  return isAstringChar(c) || c === 0x25 || c === 0x2a;
}

export class Cursor {
  pos: number;
  readonly bytes: Buffer;

  constructor(
    readonly frame: Frame,
    start = 0,
  ) {
    this.bytes = frame.bytes;
    this.pos = start;
  }

  get atEnd(): boolean {
    return this.pos >= this.bytes.length;
  }

  peek(): number {
    return this.pos < this.bytes.length ? this.bytes[this.pos]! : -1;
  }

  /** What is left, for error messages. */
  rest(max = 40): string {
    return this.bytes.toString('latin1', this.pos, Math.min(this.bytes.length, this.pos + max));
  }

  end(): void {
    if (!this.atEnd) throw new ParseError(`Unexpected characters at end of command: ${JSON.stringify(this.rest(20))}`);
  }

  sp(): void {
    if (this.peek() !== SP) throw new ParseError(this.atEnd ? 'Missing argument' : 'Expected a space');
    this.pos++;
  }

  /** Consumes one SP if there is one. */
  trySp(): boolean {
    if (this.peek() === SP) {
      this.pos++;
      return true;
    }
    return false;
  }

  char(ch: string): void {
    if (this.peek() !== ch.charCodeAt(0)) throw new ParseError(`Expected "${ch}"`);
    this.pos++;
  }

  tryChar(ch: string): boolean {
    if (this.peek() === ch.charCodeAt(0)) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** Case-insensitive keyword followed by a non-atom char or end. */
  tryWord(word: string): boolean {
    const end = this.pos + word.length;
    if (end > this.bytes.length) return false;
    if (this.bytes.toString('latin1', this.pos, end).toUpperCase() !== word.toUpperCase()) return false;
    if (end < this.bytes.length && isAtomChar(this.bytes[end]!) && isAtomChar(word.charCodeAt(word.length - 1))) return false;
    this.pos = end;
    return true;
  }

  private run(pred: (c: number) => boolean): string {
    const start = this.pos;
    while (this.pos < this.bytes.length && pred(this.bytes[this.pos]!)) this.pos++;
    return this.bytes.toString('latin1', start, this.pos);
  }

  atom(what = 'atom'): string {
    const s = this.run(isAtomChar);
    if (s.length === 0) throw new ParseError(`Expected ${what}`);
    return s;
  }

  /** Raw bytes of a run of chars matching pred (at least one). */
  token(pred: (c: number) => boolean, what: string): string {
    const s = this.run(pred);
    if (s.length === 0) throw new ParseError(`Expected ${what}`);
    return s;
  }

  number(): number {
    const s = this.run((c) => c >= 0x30 && c <= 0x39);
    if (s.length === 0) throw new ParseError('Expected a number');
    const n = Number(s);
    if (!Number.isSafeInteger(n) || s.length > 20) throw new ParseError('Number out of range');
    return n;
  }

  /** number (32-bit unsigned). */
  number32(): number {
    const n = this.number();
    if (n > 0xffffffff) throw new ParseError('Number out of range');
    return n;
  }

  nzNumber(): number {
    const n = this.number32();
    if (n === 0) throw new ParseError('Expected a non-zero number');
    return n;
  }

  quoted(): Buffer {
    this.char('"');
    const out: number[] = [];
    for (;;) {
      if (this.pos >= this.bytes.length) throw new ParseError('Unterminated quoted string');
      const c = this.bytes[this.pos++]!;
      if (c === DQUOTE) break;
      if (c === 0x0d || c === 0x0a || c === 0) throw new ParseError('Invalid character in quoted string');
      if (c === BACKSLASH) {
        const n = this.bytes[this.pos++];
        if (n !== DQUOTE && n !== BACKSLASH) throw new ParseError('Invalid escape in quoted string');
        out.push(n);
      } else out.push(c);
    }
    return Buffer.from(out);
  }

  isLiteralStart(): boolean {
    const c = this.peek();
    return c === 0x7b || (c === 0x7e && this.bytes[this.pos + 1] === 0x7b);
  }

  /** literal / literal8; the data follows the announcement's CRLF in the frame. */
  literal(allowBinary = false): Buffer | StreamedLiteral {
    const binary = this.tryChar('~');
    if (binary && !allowBinary) throw new ParseError('literal8 not allowed here');
    this.char('{');
    const size = this.number();
    this.tryChar('+');
    this.char('}');
    if (this.bytes[this.pos] !== 0x0d || this.bytes[this.pos + 1] !== 0x0a) throw new ParseError('Expected CRLF after literal size');
    this.pos += 2;
    if (this.frame.streamedAt === this.pos) {
      return { streamed: true, size, binary };
    }
    if (this.pos + size > this.bytes.length) throw new ParseError('Truncated literal');
    const data = this.bytes.subarray(this.pos, this.pos + size);
    this.pos += size;
    if (!binary && data.includes(0)) throw new ParseError('NUL in literal');
    return data;
  }

  /** A literal that must be buffered (not the streamed APPEND message). */
  bufferedLiteral(): Buffer {
    const lit = this.literal();
    if (!Buffer.isBuffer(lit)) throw new ParseError('Unexpected literal');
    return lit;
  }

  string(): Buffer {
    if (this.peek() === DQUOTE) return this.quoted();
    if (this.isLiteralStart()) return this.bufferedLiteral();
    throw new ParseError('Expected a string');
  }

  astring(): Buffer {
    const c = this.peek();
    if (c === DQUOTE || this.isLiteralStart()) return this.string();
    const start = this.pos;
    while (this.pos < this.bytes.length && (isAstringChar(this.bytes[this.pos]!) || this.bytes[this.pos]! >= 0x80)) this.pos++;
    if (this.pos === start) throw new ParseError('Expected a string');
    return this.bytes.subarray(start, this.pos);
  }

  /** astring as UTF-8 text. */
  astringText(): string {
    return this.astring().toString('utf8');
  }

  nstring(): Buffer | null {
    if (this.tryWord('NIL')) return null;
    return this.string();
  }

  /** list-mailbox: 1*list-char / string */
  listMailbox(): Buffer {
    const c = this.peek();
    if (c === DQUOTE || this.isLiteralStart()) return this.string();
    const start = this.pos;
    while (this.pos < this.bytes.length && (isListChar(this.bytes[this.pos]!) || this.bytes[this.pos]! >= 0x80)) this.pos++;
    if (this.pos === start) throw new ParseError('Expected a mailbox pattern');
    return this.bytes.subarray(start, this.pos);
  }

  /** "(" item *(SP item) ")"; allowEmpty for "()" */
  list<T>(item: (c: Cursor) => T, allowEmpty = true): T[] {
    this.char('(');
    const out: T[] = [];
    if (this.tryChar(')')) {
      if (!allowEmpty) throw new ParseError('Empty list');
      return out;
    }
    for (;;) {
      out.push(item(this));
      if (this.tryChar(')')) return out;
      this.sp();
    }
  }

  /** flag: "\Answered" / ... / keyword / flag-extension */
  flag(allowStar = false): string {
    if (this.tryChar('\\')) {
      if (allowStar && this.tryChar('*')) return '\\*';
      return '\\' + this.atom('flag');
    }
    return this.atom('flag');
  }

  flagList(): string[] {
    return this.list((c) => c.flag());
  }
}
