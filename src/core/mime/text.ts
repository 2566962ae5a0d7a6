/**
 * Body text for SEARCH BODY/TEXT and previews: transfer-decoded, charset-decoded
 * (libmime, which covers iconv-lite's charsets and the Japanese ones), HTML
 * reduced to plain text.
 */
import libcharset from 'libmime/lib/charset.js';
import { decodeBytes, stripNul } from './header.js';
import { decodeTransferEncoding } from './transfer.js';

/** Raw part bytes (as stored) → text. Never throws. */
export function decodeBodyText(raw: Buffer, encoding: string, charset: string | undefined, html: boolean): string {
  const bytes = decodeTransferEncoding(raw, encoding) ?? raw;
  const text = decodeCharset(bytes, charset);
  return stripNul(html ? htmlToText(text) : text);
}

export function decodeCharset(bytes: Buffer, charset: string | undefined): string {
  const cs = (charset ?? '').trim().toLowerCase();
  // Mail that says us-ascii (or nothing) yet carries 8-bit bytes is nearly always UTF-8, else windows-1252.
  if (cs === '' || cs === 'us-ascii' || cs === 'ascii') {
    const { text, codec } = decodeBytes(bytes);
    return codec === 'utf8' ? text : safeDecode(bytes, 'windows-1252');
  }
  return safeDecode(bytes, cs);
}

function safeDecode(bytes: Buffer, charset: string): string {
  try {
    return libcharset.decode(bytes, charset);
  } catch {
    return bytes.toString('latin1');
  }
}

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  copy: '©',
  reg: '®',
  trade: '™',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  laquo: '«',
  raquo: '»',
  bull: '•',
  middot: '·',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  sect: '§',
  deg: '°',
  times: '×',
  divide: '÷',
  auml: 'ä',
  ouml: 'ö',
  uuml: 'ü',
  Auml: 'Ä',
  Ouml: 'Ö',
  Uuml: 'Ü',
  szlig: 'ß',
  eacute: 'é',
  egrave: 'è',
  agrave: 'à',
  aacute: 'á',
  ccedil: 'ç',
  ntilde: 'ñ',
  zwnj: '',
  zwj: '',
  shy: '',
};

export function decodeEntities(s: string): string {
  return s.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?/g, (m, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      if (!Number.isFinite(code) || code <= 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '';
      return String.fromCodePoint(code);
    }
    return ENTITIES[body] ?? m;
  });
}

/** A plain reading of HTML: no scripts or styles, blocks on their own lines, entities decoded. */
export function htmlToText(html: string): string {
  return decodeEntities(
    html
      .replace(/<!--[\s\S]*?(?:-->|$)/g, ' ')
      .replace(/<(script|style|head|title)\b[\s\S]*?(?:<\/\1\s*>|$)/gi, ' ')
      .replace(/<(br|hr)\b[^<>]*>/gi, '\n')
      .replace(/<\/?(p|div|tr|li|ul|ol|h[1-6]|table|blockquote|pre|section|article|header|footer)\b[^<>]*>/gi, '\n')
      .replace(/<\/?(td|th)\b[^<>]*>/gi, ' ')
      .replace(/<[^<>]*>/g, ''),
  )
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ *\r?\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Whitespace collapsed to single spaces and cut to `max` characters (whole code points). */
export function previewOf(text: string, max: number): string {
  // Only the start matters; leave the rest of a megabyte of text alone.
  const flat = text.slice(0, max * 8 + 4096).replace(/\s+/g, ' ').trim();
  const chars = Array.from(flat);
  return chars.length <= max ? flat : chars.slice(0, max).join('');
}
