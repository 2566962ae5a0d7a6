/**
 * The message bytes of DATA (already un-dot-stuffed by smtp-server) on their
 * way to the spool: line ends made CRLF, NULs and the header block noticed.
 * Pure and incremental: feed chunks, get output chunks; the result does not
 * depend on where the chunks were split (tested by replaying every input in
 * chunks of 1..512 bytes).
 *
 * Why normalise rather than refuse bare CR and bare LF: RFC 5321 2.3.8 forbids
 * them, but real clients still send them, and the danger they carry (SMTP
 * smuggling, where a later hop reads "<LF>.<LF>" as the end of DATA) exists
 * only if they are passed on as they came. smtp-server ends DATA only at
 * <CRLF>.<CRLF>, and after this filter the stored message has no bare line
 * end left, so nothing we relay can be split differently downstream (this is
 * Postfix's smtpd_forbid_bare_newline = normalize). NULs cannot be normalised
 * away (RFC 5321 forbids them in text, and IMAP cannot carry them in a
 * literal), so the message is refused with 550 5.6.0.
 */

const CR = 0x0d;
const LF = 0x0a;

export interface DataStats {
  bytesIn: number;
  bytesOut: number;
  bareLf: number;
  bareCr: number;
  nul: number;
}

export class LineEndingFilter {
  private pendingCr = false;
  readonly stats: DataStats = { bytesIn: 0, bytesOut: 0, bareLf: 0, bareCr: 0, nul: 0 };

  /** Normalise one chunk; the output may lag by one CR until the next chunk or end(). */
  push(chunk: Buffer): Buffer {
    this.stats.bytesIn += chunk.length;
    if (chunk.indexOf(0) >= 0) this.stats.nul += countByte(chunk, 0);
    const parts: Buffer[] = [];
    let start = 0;
    let i = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (chunk.length > 0 && chunk[0] === LF) {
        parts.push(CRLF_BUF);
        start = i = 1;
      } else {
        parts.push(CRLF_BUF);
        this.stats.bareCr++;
      }
    }
    let nextCr = chunk.indexOf(CR, i);
    let nextLf = chunk.indexOf(LF, i);
    while (nextCr >= 0 || nextLf >= 0) {
      if (nextLf >= 0 && (nextCr < 0 || nextLf < nextCr)) {
        // An LF with no CR before it.
        parts.push(chunk.subarray(start, nextLf), CRLF_BUF);
        this.stats.bareLf++;
        start = nextLf + 1;
        nextLf = chunk.indexOf(LF, start);
        continue;
      }
      // A CR: fine if an LF follows, bare otherwise; at the chunk's end, wait and see.
      if (nextCr === chunk.length - 1) {
        parts.push(chunk.subarray(start, nextCr));
        this.pendingCr = true;
        start = chunk.length;
        break;
      }
      if (chunk[nextCr + 1] === LF) {
        parts.push(chunk.subarray(start, nextCr + 2));
        start = nextCr + 2;
        nextLf = chunk.indexOf(LF, start);
      } else {
        parts.push(chunk.subarray(start, nextCr), CRLF_BUF);
        this.stats.bareCr++;
        start = nextCr + 1;
      }
      nextCr = chunk.indexOf(CR, start);
    }
    if (start < chunk.length) parts.push(chunk.subarray(start));
    const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    this.stats.bytesOut += out.length;
    return out;
  }

  /** Whatever is held back (a final lone CR becomes CRLF). */
  end(): Buffer {
    if (!this.pendingCr) return EMPTY;
    this.pendingCr = false;
    this.stats.bareCr++;
    this.stats.bytesOut += 2;
    return CRLF_BUF;
  }
}

const CRLF_BUF = Buffer.from('\r\n');
const EMPTY = Buffer.alloc(0);

function countByte(b: Buffer, v: number): number {
  let n = 0;
  for (let i = b.indexOf(v); i >= 0; i = b.indexOf(v, i + 1)) n++;
  return n;
}

/**
 * Collects the header block of a CRLF-normalised message (everything before
 * the first empty line), up to `max` bytes. Pure and incremental.
 */
export class HeaderCollector {
  private readonly parts: Buffer[] = [];
  private size = 0;
  /** The empty line was seen (or the message has no header at all). */
  complete = false;
  /** The header block was longer than `max`; `header()` holds its first `max` bytes. */
  truncated = false;
  // The last 3 bytes seen, to find CRLFCRLF across chunk boundaries. It starts
  // as a virtual CRLF, so a message that begins with an empty line (no header
  // at all) is found by the same search.
  private tail = '\r\n';

  constructor(private readonly max = 256 * 1024) {}

  push(chunk: Buffer): void {
    if (this.complete || this.truncated || chunk.length === 0) return;
    const window = Buffer.concat([Buffer.from(this.tail, 'latin1'), chunk]);
    const offset = this.tail.length;
    const i = window.indexOf('\r\n\r\n');
    // Keep the CRLF that ends the last field.
    const take = i >= 0 ? Math.max(0, i + 2 - offset) : chunk.length;
    const room = this.max - this.size;
    const piece = chunk.subarray(0, Math.min(take, room));
    this.parts.push(piece);
    this.size += piece.length;
    if (take > room) this.truncated = true;
    else if (i >= 0) this.complete = true;
    this.tail = window.subarray(Math.max(0, window.length - 3)).toString('latin1');
  }

  header(): Buffer {
    return Buffer.concat(this.parts);
  }
}
