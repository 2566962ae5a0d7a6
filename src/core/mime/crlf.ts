/**
 * Line-end normalisation to CRLF.
 *
 * Every way into the store (SMTP, LMTP-style delivery, APPEND, fetch, import)
 * stores messages with CRLF line ends, so POP3 LIST sizes and IMAP RFC822.SIZE
 * equal the octets a client receives (RFC 5322 section 2.1: lines end in CRLF).
 *
 * Rules: CR LF stays; a bare LF becomes CR LF; a bare CR becomes CR LF. The
 * only state carried between chunks is "the last byte was a CR", so a CR at the
 * end of one chunk and an LF at the start of the next stay one line end.
 */
import { Transform, type TransformCallback } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;

/** Incremental normaliser; pure (no I/O), usable outside streams. */
export class CrlfState {
  /** The previous byte was a CR, already written out as CR LF. */
  private afterCr = false;

  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    // Fast path, the common case for SMTP input: nothing to change. A CR as the
    // last byte is not clean yet (its LF may be in the next chunk).
    const continuesCrLf = this.afterCr && chunk[0] === LF;
    if (!continuesCrLf && chunk[chunk.length - 1] !== CR && isCleanCrlf(chunk)) {
      this.afterCr = false;
      return chunk;
    }
    const out = Buffer.allocUnsafe(chunk.length * 2);
    let o = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === LF) {
        if (this.afterCr) {
          this.afterCr = false; // the CR already wrote CR LF
          continue;
        }
        out[o++] = CR;
        out[o++] = LF;
      } else if (c === CR) {
        out[o++] = CR;
        out[o++] = LF;
        this.afterCr = true;
      } else {
        this.afterCr = false;
        out[o++] = c;
      }
    }
    return out.subarray(0, o);
  }
}

/**
 * True when every CR is followed by LF and every LF preceded by CR within the
 * chunk, allowing a CR as the very last byte (its LF may come in the next chunk).
 */
function isCleanCrlf(buf: Buffer): boolean {
  let i = buf.indexOf(LF);
  while (i !== -1) {
    if (i === 0 || buf[i - 1] !== CR) return false;
    i = buf.indexOf(LF, i + 1);
  }
  i = buf.indexOf(CR);
  while (i !== -1) {
    if (i + 1 < buf.length && buf[i + 1] !== LF) return false;
    i = buf.indexOf(CR, i + 1);
  }
  return true;
}

/** Transform stream: bytes in, the same bytes with CRLF line ends out. */
export class CrlfNormalizer extends Transform {
  private readonly state = new CrlfState();

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, done: TransformCallback): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'binary') : chunk;
    const out = this.state.push(buf);
    if (out.length > 0) this.push(out);
    done();
  }
}

/** Whole-buffer form; returns the input itself when it is already CRLF-clean. */
export function toCrlf(buf: Buffer): Buffer {
  if (isCleanCrlf(buf) && (buf.length === 0 || buf[buf.length - 1] !== CR)) return buf;
  return new CrlfState().push(buf);
}
