/**
 * FETCH data items (RFC 3501 6.4.5, RFC 9051 6.4.5, RFC 3516 BINARY,
 * RFC 7162 MODSEQ/CHANGEDSINCE/VANISHED): parsed into a plain description that
 * fetch/render.ts answers.
 */
import { ParseError, type Cursor } from '../parser/cursor.js';

export type SectionText = '' | 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';

export interface SectionSpec {
  /** Part numbers ("1.2" = [1, 2]); empty for the whole message. */
  part: number[];
  text: SectionText;
  /** Upper-cased field names for HEADER.FIELDS (.NOT). */
  fields: string[];
}

export type FetchItem =
  | { kind: 'FLAGS' }
  | { kind: 'INTERNALDATE' }
  | { kind: 'RFC822.SIZE' }
  | { kind: 'ENVELOPE' }
  | { kind: 'BODYSTRUCTURE' }
  /** BODY without a section: the non-extensible structure. */
  | { kind: 'BODY' }
  | { kind: 'UID' }
  | { kind: 'MODSEQ' }
  | { kind: 'RFC822' }
  | { kind: 'RFC822.HEADER' }
  | { kind: 'RFC822.TEXT' }
  | { kind: 'SECTION'; binary: boolean; peek: boolean; section: SectionSpec; partial: { start: number; length: number } | null }
  | { kind: 'BINARY.SIZE'; section: SectionSpec };

export interface FetchModifiers {
  changedSince?: number;
  vanished?: boolean;
}

export interface FetchRequest {
  items: FetchItem[];
  modifiers: FetchModifiers;
}

const MACROS: Record<string, FetchItem['kind'][]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

const SIMPLE = new Set(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODYSTRUCTURE', 'UID', 'MODSEQ', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT']);

/** Letters, digits and dots: the name part of a fetch attribute. */
function attName(c: Cursor): string {
  return c.token((b) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2e, 'a FETCH item').toUpperCase();
}

export function parseFetchRequest(c: Cursor): FetchRequest {
  let items: FetchItem[];
  if (c.peek() === 0x28) {
    items = c.list(parseItem, false);
  } else {
    const save = c.pos;
    const name = attName(c);
    const macro = MACROS[name];
    if (macro) items = macro.map((kind) => ({ kind }) as FetchItem);
    else {
      c.pos = save;
      items = [parseItem(c)];
    }
  }
  const modifiers: FetchModifiers = {};
  if (c.trySp()) {
    c.list((m) => {
      const name = m.atom('a FETCH modifier').toUpperCase();
      if (name === 'CHANGEDSINCE') {
        m.sp();
        modifiers.changedSince = m.number();
      } else if (name === 'VANISHED') {
        modifiers.vanished = true;
      } else throw new ParseError(`Unknown FETCH modifier ${name}`);
      return name;
    }, false);
  }
  return { items, modifiers };
}

function parseItem(c: Cursor): FetchItem {
  const name = attName(c);
  if (SIMPLE.has(name)) return { kind: name } as FetchItem;
  if (name === 'BODY' && c.peek() !== 0x5b) return { kind: 'BODY' };
  if (name === 'BODY' || name === 'BODY.PEEK' || name === 'BINARY' || name === 'BINARY.PEEK') {
    const binary = name.startsWith('BINARY');
    const section = parseSection(c, binary);
    let partial: { start: number; length: number } | null = null;
    if (c.tryChar('<')) {
      const start = c.number();
      c.char('.');
      const length = c.nzNumber();
      c.char('>');
      partial = { start, length };
    }
    return { kind: 'SECTION', binary, peek: name.endsWith('.PEEK'), section, partial };
  }
  if (name === 'BINARY.SIZE') {
    return { kind: 'BINARY.SIZE', section: parseSection(c, true) };
  }
  throw new ParseError(`Unknown FETCH item ${name}`);
}

/** "[" [section-spec] "]" */
export function parseSection(c: Cursor, binary: boolean): SectionSpec {
  c.char('[');
  const section: SectionSpec = { part: [], text: '', fields: [] };
  if (c.tryChar(']')) return section;
  // Part numbers.
  while (c.peek() >= 0x31 && c.peek() <= 0x39) {
    section.part.push(c.nzNumber());
    if (!c.tryChar('.')) break;
  }
  if (c.peek() !== 0x5d) {
    if (binary) throw new ParseError('BINARY takes only part numbers');
    if (section.part.length > 0 && c.bytes[c.pos - 1] !== 0x2e) throw new ParseError('Invalid section');
    const text = c.token((b) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2e, 'a section').toUpperCase();
    if (text === 'HEADER' || text === 'TEXT') section.text = text;
    else if (text === 'MIME') {
      if (section.part.length === 0) throw new ParseError('MIME needs a part number');
      section.text = 'MIME';
    } else if (text === 'HEADER.FIELDS' || text === 'HEADER.FIELDS.NOT') {
      section.text = text;
      c.sp();
      section.fields = c.list((x) => x.astring().toString('latin1').toUpperCase(), false);
    } else throw new ParseError(`Unknown section ${text}`);
  } else if (section.part.length > 0 && c.bytes[c.pos - 1] === 0x2e) {
    throw new ParseError('Invalid section');
  }
  c.char(']');
  return section;
}

/** The section as it is echoed in the response name: "1.2.HEADER.FIELDS (FROM TO)". */
export function sectionName(s: SectionSpec): string {
  const parts = s.part.join('.');
  let text: string = s.text;
  if (s.text === 'HEADER.FIELDS' || s.text === 'HEADER.FIELDS.NOT') text += ` (${s.fields.join(' ')})`;
  return parts && text ? `${parts}.${text}` : parts || text;
}

/** Whether fetching these items sets \Seen (RFC 3501 6.4.5). */
export function setsSeen(items: FetchItem[]): boolean {
  return items.some((i) => i.kind === 'RFC822' || i.kind === 'RFC822.TEXT' || (i.kind === 'SECTION' && !i.peek));
}
