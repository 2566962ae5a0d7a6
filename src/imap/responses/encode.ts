/**
 * Serialising values into response syntax (RFC 3501 4, 9): strings go out
 * quoted when they can (7-bit TEXT-CHAR, or UTF-8 once the client enabled
 * UTF8=ACCEPT / IMAP4rev2) and as literals otherwise; NIL for absent values.
 * A response is a list of pieces so big message bodies can be streamed.
 */
import type { Readable } from 'node:stream';

/** Bytes that come from the blob store, streamed into a literal of known size. */
export interface StreamPiece {
  size: number;
  open: () => Promise<Readable>;
}

export type Piece = string | Buffer | StreamPiece;

export interface EncodeOptions {
  /** UTF-8 may appear in quoted strings (RFC 6855 UTF8=ACCEPT, RFC 9051). */
  utf8: boolean;
}

const MAX_QUOTED = 1024;

/** Whether the bytes can be sent as a quoted string. */
function quotable(b: Buffer, utf8: boolean): boolean {
  if (b.length > MAX_QUOTED) return false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x0d || c === 0x0a || c === 0) return false;
    if (c >= 0x80 && !utf8) return false;
  }
  if (utf8 && b.some((c) => c >= 0x80) && !isValidUtf8(b)) return false;
  return true;
}

function isValidUtf8(b: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

export function quote(b: Buffer | string): string {
  const s = typeof b === 'string' ? b : b.toString('utf8');
  return '"' + s.replace(/[\\"]/g, (m) => '\\' + m) + '"';
}

/** A string: quoted when possible, else a literal. */
export function str(value: string | Buffer, opts: EncodeOptions): Piece {
  const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (quotable(b, opts.utf8)) {
    return quote(typeof value === 'string' ? value : b.toString(opts.utf8 ? 'utf8' : 'latin1'));
  }
  return Buffer.concat([Buffer.from(`{${b.length}}\r\n`), b]);
}

export function nstr(value: string | Buffer | null | undefined, opts: EncodeOptions): Piece {
  if (value === null || value === undefined) return 'NIL';
  return str(value, opts);
}

/** Joins pieces, merging adjacent strings (fewer, larger writes). */
export class PieceList {
  readonly pieces: Piece[] = [];
  private text = '';

  push(...items: Piece[]): this {
    for (const p of items) {
      if (typeof p === 'string') this.text += p;
      else {
        this.flushText();
        this.pieces.push(p);
      }
    }
    return this;
  }

  private flushText(): void {
    if (this.text) {
      this.pieces.push(this.text);
      this.text = '';
    }
  }

  done(): Piece[] {
    this.flushText();
    return this.pieces;
  }
}

/** Number or NIL. */
export function nnum(n: number | null | undefined): string {
  return n === null || n === undefined ? 'NIL' : String(n);
}

/** Whether a piece list is only strings and buffers (no streams). */
export function isPlain(pieces: Piece[]): pieces is Array<string | Buffer> {
  return pieces.every((p) => typeof p === 'string' || Buffer.isBuffer(p));
}

/** Flattens plain pieces (tests, small responses). */
export function toBuffer(pieces: Piece[]): Buffer {
  return Buffer.concat(
    pieces.map((p) => {
      if (typeof p === 'string') return Buffer.from(p, 'utf8');
      if (Buffer.isBuffer(p)) return p;
      throw new Error('stream piece in toBuffer');
    }),
  );
}

/** IMAP date-time: "17-Jul-1996 02:44:25 -0700" (we always answer in UTC). */
export function imapDateTime(d: Date): string {
  const dd = String(d.getUTCDate()).padStart(2, ' ');
  const hh = String(d.getUTCHours()).padStart(2, '0');
  const mi = String(d.getUTCMinutes()).padStart(2, '0');
  const ss = String(d.getUTCSeconds()).padStart(2, '0');
  return `"${dd}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${hh}:${mi}:${ss} +0000"`;
}

export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
