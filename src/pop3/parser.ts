/**
 * Bytes in, POP3 lines and commands out: pure and incremental, no I/O, so it is
 * tested on bytes alone (replayed in chunks of every size).
 *
 * - A line ends at LF; a CR before it is dropped (clients that send bare LF
 *   are common enough to accept).
 * - A line longer than the bound is reported once as `tooLong` and its bytes are
 *   skipped up to the next LF, so a client cannot make us buffer without limit.
 * - RFC 2449 allows 255 octets for a command line; the default bound is larger,
 *   because AUTH initial responses (RFC 5034) and long passwords legitimately exceed it.
 */

export type LineResult =
  | { kind: 'line'; line: string }
  | { kind: 'needMore' }
  /** A line passed the bound; what was read of it is dropped. */
  | { kind: 'tooLong' };

/** Default bound of one line, CRLF excluded. */
export const MAX_LINE = 8192;

export class LineReader {
  private buf: Buffer = Buffer.alloc(0);
  /** Where to resume looking for LF (everything before it has none). */
  private scanned = 0;
  /** Dropping the rest of an overlong line until its LF. */
  private skipping = false;

  constructor(private readonly maxLine = MAX_LINE) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** Bytes held and not yet returned as lines. */
  get buffered(): number {
    return this.buf.length;
  }

  /** Forget everything buffered (after STLS: plaintext sent before the handshake is not trusted). */
  clear(): void {
    this.buf = Buffer.alloc(0);
    this.scanned = 0;
    this.skipping = false;
  }

  next(): LineResult {
    for (;;) {
      const lf = this.buf.indexOf(10, this.scanned);
      if (this.skipping) {
        if (lf === -1) {
          this.buf = Buffer.alloc(0);
          this.scanned = 0;
          return { kind: 'needMore' };
        }
        this.buf = this.buf.subarray(lf + 1);
        this.scanned = 0;
        this.skipping = false;
        continue;
      }
      if (lf === -1) {
        // The bound counts the line without its CR; one more byte may be that CR.
        if (this.buf.length > this.maxLine + 1) {
          this.skipping = true;
          this.buf = Buffer.alloc(0);
          this.scanned = 0;
          return { kind: 'tooLong' };
        }
        this.scanned = this.buf.length;
        return { kind: 'needMore' };
      }
      const end = lf > 0 && this.buf[lf - 1] === 13 ? lf - 1 : lf;
      const line = this.buf.subarray(0, end);
      this.buf = this.buf.subarray(lf + 1);
      this.scanned = 0;
      if (line.length > this.maxLine) return { kind: 'tooLong' };
      // latin1 maps every byte to one char: nothing is lost for passwords and SASL
      // data is base64; commands themselves are ASCII.
      return { kind: 'line', line: line.toString('latin1') };
    }
  }
}

export interface ParsedCommand {
  /** Upper-cased keyword. */
  name: string;
  /** Space-separated arguments (empty ones from repeated spaces dropped). */
  args: string[];
  /** Everything after the keyword and its one space, as sent (PASS takes spaces, RFC 1939 7). */
  rest: string;
}

export type CommandParse = { ok: true; command: ParsedCommand } | { ok: false; reason: 'empty' | 'badKeyword' };

/**
 * Split a command line. Keywords are 3-4 printable characters (RFC 1939 3), case
 * insensitive; anything else is reported so the session can answer -ERR.
 */
export function parseCommand(line: string): CommandParse {
  if (line.trim().length === 0) return { ok: false, reason: 'empty' };
  const sp = line.indexOf(' ');
  const keyword = sp === -1 ? line : line.slice(0, sp);
  if (!/^[A-Za-z]{1,8}$/.test(keyword)) return { ok: false, reason: 'badKeyword' };
  const rest = sp === -1 ? '' : line.slice(sp + 1);
  const args = rest.split(' ').filter((a) => a.length > 0);
  return { ok: true, command: { name: keyword.toUpperCase(), args, rest } };
}

/** A message number argument: decimal digits only, 1..count checked by the caller. */
export function parseNumber(arg: string | undefined): number | null {
  if (arg === undefined || !/^\d{1,9}$/.test(arg)) return null;
  return Number(arg);
}
