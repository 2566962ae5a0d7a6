/**
 * Parsing what a POP3 server says (RFC 1939 3, RFC 2449 8): status lines
 * ("+OK ...", "-ERR [CODE] ...") and multi-line data blocks ended by a line
 * holding one dot, with dot-stuffing undone.
 *
 * Pure and incremental: bytes in, lines or unstuffed data out, no sockets. The
 * decoder is correct whatever the chunking (it is tested by replaying data in
 * chunks of 1..512 bytes), because a TCP read can end anywhere: after the CR of
 * a CRLF, on the dot at the start of a line, or between ".\r" and "\n".
 */

/** A status line: "+OK text" or "-ERR [RESP-CODE] text". */
export interface StatusLine {
  ok: boolean;
  text: string;
  /** RFC 2449 response code in brackets after -ERR/+OK (e.g. "AUTH", "IN-USE", "SYS/TEMP"), upper-case. */
  code: string | null;
}

/** Longest status line we accept; RFC 2449 allows 512 octets, servers send more in greetings. */
export const MAX_STATUS_LINE = 8192;

export type LineResult = { kind: 'line'; line: string; rest: Buffer } | { kind: 'needMore' } | { kind: 'tooLong' };

/** Takes one CRLF (or bare LF) terminated line from the front of buf. */
export function takeLine(buf: Buffer, max = MAX_STATUS_LINE): LineResult {
  const nl = buf.indexOf(10);
  if (nl === -1) return buf.length > max ? { kind: 'tooLong' } : { kind: 'needMore' };
  if (nl > max) return { kind: 'tooLong' };
  const end = nl > 0 && buf[nl - 1] === 13 ? nl - 1 : nl;
  return { kind: 'line', line: buf.subarray(0, end).toString('utf8'), rest: buf.subarray(nl + 1) };
}

/** Parses a status line; null when it is neither +OK nor -ERR. */
export function parseStatusLine(line: string): StatusLine | null {
  let ok: boolean;
  let rest: string;
  if (/^\+OK(?:\s|$)/i.test(line)) {
    ok = true;
    rest = line.slice(3);
  } else if (/^-ERR(?:\s|$)/i.test(line)) {
    ok = false;
    rest = line.slice(4);
  } else {
    return null;
  }
  rest = rest.replace(/^\s+/, '');
  let code: string | null = null;
  const m = /^\[([A-Za-z0-9/-]+)\]\s*/.exec(rest);
  if (m) {
    code = m[1]!.toUpperCase();
    rest = rest.slice(m[0].length);
  }
  return { ok, text: rest, code };
}

/** The APOP timestamp ("<...@...>") of a greeting, if the server offers one (RFC 1939 7). */
export function apopTimestamp(greetingText: string): string | null {
  // msg-id syntax: printable, no whitespace, no nested brackets.
  const m = /<[\x21-\x3b\x3d\x3f-\x7e]+>/.exec(greetingText);
  return m ? m[0] : null;
}

export interface DecodeResult {
  /** Unstuffed data, in order; slices of the input (copy before keeping them long). */
  data: Buffer[];
  /** True once the terminating "." line was seen. */
  done: boolean;
  /** Bytes after the terminator (the next response), when done. */
  rest: Buffer;
}

const DOT = 0x2e;
const CR = 13;
const LF = 10;
const EMPTY = Buffer.alloc(0);

/**
 * Undoes dot-stuffing of one multi-line response body and finds its end.
 * Line ends are passed through as the server sent them (CRLF from any sane
 * server; a bare LF is tolerated and kept).
 */
export class DotDecoder {
  private atLineStart = true;
  /** Up to two bytes we could not decide on yet (".", ".\r" at a line start). */
  private pending: Buffer = EMPTY;
  private finished = false;

  get done(): boolean {
    return this.finished;
  }

  push(chunk: Buffer): DecodeResult {
    if (this.finished) return { data: [], done: true, rest: chunk };
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = EMPTY;
    const data: Buffer[] = [];
    const len = buf.length;
    let segStart = 0;
    let i = 0;
    while (i < len) {
      if (this.atLineStart && buf[i] === DOT) {
        if (i + 1 >= len) {
          if (i > segStart) data.push(buf.subarray(segStart, i));
          this.pending = Buffer.from(buf.subarray(i));
          return { data, done: false, rest: EMPTY };
        }
        const c = buf[i + 1];
        if (c === LF || (c === CR && i + 2 < len && buf[i + 2] === LF)) {
          if (i > segStart) data.push(buf.subarray(segStart, i));
          this.finished = true;
          return { data, done: true, rest: buf.subarray(i + (c === LF ? 2 : 3)) };
        }
        if (c === CR && i + 2 >= len) {
          if (i > segStart) data.push(buf.subarray(segStart, i));
          this.pending = Buffer.from(buf.subarray(i));
          return { data, done: false, rest: EMPTY };
        }
        // A stuffed dot: drop it, keep the rest of the line.
        if (i > segStart) data.push(buf.subarray(segStart, i));
        i += 1;
        segStart = i;
      }
      const nl = buf.indexOf(LF, i);
      if (nl === -1) {
        this.atLineStart = false;
        i = len;
        break;
      }
      i = nl + 1;
      this.atLineStart = true;
    }
    if (segStart < len) data.push(buf.subarray(segStart, len));
    return { data, done: false, rest: EMPTY };
  }
}

/** Splits a whole multi-line listing (UIDL, LIST, CAPA) into its lines. */
export function listingLines(body: Buffer): string[] {
  const text = body.toString('utf8');
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** "n uid" lines of UIDL (RFC 1939 7): uid is 1-70 printable characters. */
export function parseUidlLine(line: string): { n: number; uid: string } | null {
  const m = /^\s*(\d+)\s+([\x21-\x7e]{1,70})\s*$/.exec(line);
  return m ? { n: Number(m[1]), uid: m[2]! } : null;
}

/** "n size" lines of LIST (RFC 1939 5); extra fields after the size are allowed. */
export function parseListLine(line: string): { n: number; size: number } | null {
  const m = /^\s*(\d+)\s+(\d+)(?:\s.*)?$/.exec(line);
  return m ? { n: Number(m[1]), size: Number(m[2]) } : null;
}
