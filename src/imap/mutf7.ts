/**
 * Modified UTF-7 mailbox names (RFC 3501 5.1.3): printable ASCII stands for
 * itself ("&" as "&-"), anything else is UTF-16BE in modified base64 (","
 * for "/") between "&" and "-". Decoding is strict, as clients rely on one
 * spelling per name: bad base64, non-zero pad bits, odd or unpaired UTF-16,
 * encoded printable ASCII or raw 8-bit bytes are errors.
 */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const B64_INDEX = new Int8Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

export class Utf7Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Utf7Error';
  }
}

function isDirect(code: number): boolean {
  return code >= 0x20 && code <= 0x7e;
}

export function encodeMutf7(name: string): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const code = name.charCodeAt(i);
    if (code === 0x26) {
      out += '&-';
      i++;
      continue;
    }
    if (isDirect(code)) {
      out += name[i];
      i++;
      continue;
    }
    // Collect a run of non-direct UTF-16 code units.
    const units: number[] = [];
    while (i < name.length && !isDirect(name.charCodeAt(i))) {
      units.push(name.charCodeAt(i));
      i++;
    }
    const bytes = Buffer.alloc(units.length * 2);
    units.forEach((u, k) => bytes.writeUInt16BE(u, k * 2));
    out += '&' + bytes.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
  }
  return out;
}

export function decodeMutf7(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code > 0x7e || code < 0x20) throw new Utf7Error('Mailbox name contains a character outside modified UTF-7');
    if (code !== 0x26) {
      out += text[i];
      i++;
      continue;
    }
    const end = text.indexOf('-', i + 1);
    if (end < 0) throw new Utf7Error('Unterminated "&" sequence in mailbox name');
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    out += decodeRun(text.slice(i + 1, end));
    i = end + 1;
  }
  return out;
}

function decodeRun(b64: string): string {
  let bits = 0;
  let nbits = 0;
  const bytes: number[] = [];
  for (let k = 0; k < b64.length; k++) {
    const c = b64.charCodeAt(k);
    const v = c < 128 ? B64_INDEX[c]! : -1;
    if (v < 0) throw new Utf7Error('Invalid modified base64 in mailbox name');
    bits = (bits << 6) | v;
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      bytes.push((bits >> nbits) & 0xff);
      bits &= (1 << nbits) - 1;
    }
  }
  if (nbits >= 6 || bits !== 0) throw new Utf7Error('Invalid padding in modified base64');
  if (bytes.length % 2 !== 0 || bytes.length === 0) throw new Utf7Error('Modified base64 is not UTF-16');
  let s = '';
  for (let k = 0; k < bytes.length; k += 2) {
    const unit = (bytes[k]! << 8) | bytes[k + 1]!;
    if (isDirect(unit)) throw new Utf7Error('Printable ASCII must not be base64-encoded');
    if (unit < 0x20 || unit === 0x7f) throw new Utf7Error('Control character in mailbox name');
    s += String.fromCharCode(unit);
  }
  // Unpaired surrogates are not text.
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)) {
    throw new Utf7Error('Unpaired surrogate in mailbox name');
  }
  return s;
}
