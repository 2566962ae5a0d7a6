/**
 * Content-Transfer-Encoding decoding (RFC 2045 section 6): base64 and
 * quoted-printable, whole-buffer and incremental (for IMAP BINARY[] of large
 * parts, RFC 3516, and for the indexer's search text).
 *
 * Decoders are lenient: characters outside the base64 alphabet are skipped, a
 * "=" in quoted-printable that starts no valid escape stays as it is, and
 * trailing blanks on quoted-printable lines are dropped (rule 3: transports may
 * add them). Unknown encodings are the caller's business (IMAP UNKNOWN-CTE).
 */
import { Transform, type TransformCallback } from 'node:stream';

/** Encodings whose decoded form we can produce; identity encodings included. */
export function isKnownEncoding(encoding: string): boolean {
  switch (encoding.toLowerCase()) {
    case '7bit':
    case '8bit':
    case 'binary':
    case 'base64':
    case 'quoted-printable':
      return true;
    default:
      return false;
  }
}

/** Incremental decoder; `push` returns decoded bytes available so far. */
export interface TransferDecoder {
  push(chunk: Buffer): Buffer;
  end(): Buffer;
}

const B64 = new Uint8Array(256).fill(0);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') B64[c.charCodeAt(0)] = 1;

class Base64Decoder implements TransferDecoder {
  private carry = '';

  push(chunk: Buffer): Buffer {
    const clean = Buffer.allocUnsafe(chunk.length);
    let n = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (B64[c] === 1) clean[n++] = c;
    }
    const text = this.carry + clean.toString('latin1', 0, n);
    const usable = text.length - (text.length % 4);
    this.carry = text.slice(usable);
    return usable === 0 ? EMPTY : Buffer.from(text.slice(0, usable), 'base64');
  }

  end(): Buffer {
    const rest = this.carry;
    this.carry = '';
    // 2 or 3 leftover characters still carry 1 or 2 bytes; a single one carries none.
    return rest.length >= 2 ? Buffer.from(rest, 'base64') : EMPTY;
  }
}

const EQ = 0x3d;
const CR = 0x0d;
const LF = 0x0a;
/** Quoted-printable lines are at most 76 characters; past this we decode without waiting for the LF. */
const QP_MAX_CARRY = 16 * 1024;

class QuotedPrintableDecoder implements TransferDecoder {
  private carry: Buffer = EMPTY;

  push(chunk: Buffer): Buffer {
    const data = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    const lastLf = data.lastIndexOf(LF);
    let upto = lastLf + 1;
    if (upto === 0 && data.length > QP_MAX_CARRY) upto = data.length - 2; // keep a possible "=X" back
    this.carry = Buffer.from(data.subarray(upto));
    return decodeQpLines(data.subarray(0, upto), false);
  }

  end(): Buffer {
    const rest = this.carry;
    this.carry = EMPTY;
    return decodeQpLines(rest, true);
  }
}

class IdentityDecoder implements TransferDecoder {
  push(chunk: Buffer): Buffer {
    return chunk;
  }
  end(): Buffer {
    return EMPTY;
  }
}

const EMPTY = Buffer.alloc(0);

export function createDecoder(encoding: string): TransferDecoder | null {
  switch (encoding.toLowerCase()) {
    case 'base64':
      return new Base64Decoder();
    case 'quoted-printable':
      return new QuotedPrintableDecoder();
    case '7bit':
    case '8bit':
    case 'binary':
      return new IdentityDecoder();
    default:
      return null;
  }
}

/** Whole-buffer decode; null for an unknown encoding. */
export function decodeTransferEncoding(data: Buffer, encoding: string): Buffer | null {
  const d = createDecoder(encoding);
  if (d === null) return null;
  const a = d.push(data);
  const b = d.end();
  return b.length === 0 ? a : Buffer.concat([a, b]);
}

/** A Transform that decodes; null for an unknown encoding. */
export function createDecodeStream(encoding: string): Transform | null {
  const d = createDecoder(encoding);
  if (d === null) return null;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      const out = d.push(chunk);
      if (out.length > 0) this.push(out);
      done();
    },
    flush(done: TransformCallback) {
      const out = d.end();
      if (out.length > 0) this.push(out);
      done();
    },
  });
}

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Decodes whole lines of quoted-printable (each with its line end, except the
 * last when `final` or when the carry overflowed).
 */
function decodeQpLines(data: Buffer, final: boolean): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  let o = 0;
  let i = 0;
  while (i < data.length) {
    let lf = data.indexOf(LF, i);
    const hasLf = lf !== -1;
    if (!hasLf) lf = data.length;
    let end = hasLf && lf > i && data[lf - 1] === CR ? lf - 1 : lf;
    const nlStart = end;
    // Rule 3: trailing blanks are not part of the text (only when the line end is known).
    if (hasLf || final) while (end > i && (data[end - 1] === 0x20 || data[end - 1] === 0x09)) end--;
    let soft = false;
    if (end > i && data[end - 1] === EQ && (hasLf || final)) {
      soft = true;
      end--;
    }
    for (let j = i; j < end; j++) {
      const c = data[j]!;
      if (c === EQ && j + 2 < end) {
        const a = hex(data[j + 1]!);
        const b = hex(data[j + 2]!);
        if (a >= 0 && b >= 0) {
          out[o++] = a * 16 + b;
          j += 2;
          continue;
        }
      }
      out[o++] = c;
    }
    if (hasLf && !soft) {
      for (let j = nlStart; j <= lf; j++) out[o++] = data[j]!;
    }
    i = hasLf ? lf + 1 : data.length;
  }
  return out.subarray(0, o);
}
