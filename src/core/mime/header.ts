/**
 * Header blocks (RFC 5322 section 2.2): splitting a block into fields,
 * unfolding, and turning raw bytes into strings.
 *
 * Header bytes should be ASCII, but real mail carries raw UTF-8 (RFC 6532) and
 * raw legacy 8-bit text. Each field is decoded as UTF-8 when it is valid UTF-8
 * and as latin1 otherwise, so nothing throws and every byte maps to a character.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import libmime from 'libmime';

export interface HeaderField {
  /** Lower-case field name. */
  name: string;
  /** Value with line ends removed (unfolded) and outer whitespace trimmed; still encoded-word encoded. */
  value: string;
  /** How the field's bytes became this string (to turn a boundary back into bytes). */
  codec: 'utf8' | 'latin1';
}

export function decodeBytes(buf: Buffer): { text: string; codec: 'utf8' | 'latin1' } {
  if (isAscii(buf)) return { text: buf.toString('latin1'), codec: 'latin1' };
  if (isUtf8(buf)) return { text: buf.toString('utf8'), codec: 'utf8' };
  return { text: buf.toString('latin1'), codec: 'latin1' };
}

/** PostgreSQL text and jsonb refuse NUL; it carries no meaning in mail. */
export function stripNul(s: string): string {
  return s.includes('\u0000') ? s.replace(/\u0000/g, '') : s;
}

/** Does this line (bytes) begin a header field: a printable name, optional blanks, a colon? */
export function isFieldStart(line: Buffer): boolean {
  const n = Math.min(line.length, 1000);
  for (let i = 0; i < n; i++) {
    const c = line[i]!;
    if (c === 0x3a) {
      if (i === 0) return false;
      // Blanks are allowed between the name and the colon (RFC 5322 obs-optional), not inside it.
      let j = i - 1;
      while (j > 0 && (line[j] === 0x20 || line[j] === 0x09)) j--;
      for (let k = 0; k <= j; k++) {
        const d = line[k]!;
        if (d < 0x21 || d > 0x7e) return false;
      }
      return true;
    }
    if (c < 0x21 && c !== 0x20 && c !== 0x09) return false;
    if (c > 0x7e) return false;
  }
  return false;
}

/**
 * Splits a header block into fields. Lines that are neither a field nor a
 * continuation (an mbox "From " line, garbage) are skipped; the blank line
 * that ends the block, if present, is ignored.
 */
export function parseHeaderBlock(block: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  let cur: Buffer[] | null = null;
  const flush = () => {
    if (cur === null) return;
    const raw = cur.length === 1 ? cur[0]! : Buffer.concat(cur);
    cur = null;
    const { text, codec } = decodeBytes(raw);
    const colon = text.indexOf(':');
    const name = text.slice(0, colon).trim().toLowerCase();
    const value = unfold(text.slice(colon + 1));
    fields.push({ name, value: stripNul(value), codec });
  };
  let i = 0;
  while (i < block.length) {
    let nl = block.indexOf(0x0a, i);
    if (nl === -1) nl = block.length;
    const line = block.subarray(i, nl + 1 > block.length ? block.length : nl + 1);
    i = nl + 1;
    const first = line[0];
    if (first === 0x20 || first === 0x09) {
      if (cur !== null) cur.push(line);
      continue;
    }
    flush();
    if (isFieldStart(line)) cur = [line];
  }
  flush();
  return fields;
}

/** RFC 5322 unfolding: drop CR and LF (the WSP that follows stays), then trim. */
export function unfold(value: string): string {
  return value.replace(/\r?\n|\r/g, '').trim();
}

/** Encoded-words (RFC 2047) decoded in any charset libmime knows; never throws. */
export function decodeWords(value: string): string {
  try {
    return stripNul(libmime.decodeWords(value));
  } catch {
    return value;
  }
}

/** First field with this name, or undefined. */
export function firstField(fields: HeaderField[], name: string): HeaderField | undefined {
  for (const f of fields) if (f.name === name) return f;
  return undefined;
}
