/**
 * Delivery-time MIME indexing: one pass over a message gives everything IMAP
 * (ENVELOPE, BODYSTRUCTURE, BODY[section], SEARCH, SORT, THREAD), POP3 and
 * webmail need, so no reader ever re-parses a body.
 *
 * Implements RFC 5322 (header, addresses, dates), RFC 2045-2047 and 2231 (MIME
 * structure, encodings, encoded-words, parameter continuations), RFC 2183
 * (Content-Disposition), RFC 3501/9051 section 7.4.2 (ENVELOPE, BODYSTRUCTURE
 * fields and the offsets BODY[section] needs), RFC 5256 (base subject, sort keys).
 *
 * `Indexer` is streaming: feed it the message as it is written to the blob store;
 * memory stays bounded (header blocks, at most TEXT_BUDGET bytes of text/* bodies
 * for search; other bodies are only scanned for boundaries and counted).
 * `indexMessage` is the one-shot form; both give the same index for the same bytes
 * however they are split. Broken input never throws.
 */
import { formatAddresses, sortKey } from './address.js';
import { parseMailDate } from './date.js';
import { decodeWords, firstField, type HeaderField } from './header.js';
import { LineSplitter } from './lines.js';
import { emptyEnvelope } from './envelope.js';
import { EntityScanner, type PartText } from './scanner.js';
import { baseSubject } from './subject.js';
import { previewOf } from './text.js';
import type { BodyPart, ImapEnvelope, MessageIndex } from './types.js';

export type { BodyPart, ImapAddress, ImapEnvelope, MessageIndex } from './types.js';
export { CrlfNormalizer, toCrlf } from './crlf.js';

/** Raw bytes of text/* parts kept for the search text (before decoding). */
export const TEXT_BUDGET = 2 * 1024 * 1024;
/** Characters of decoded search text kept. */
export const TEXT_MAX_CHARS = 1024 * 1024;
export const PREVIEW_CHARS = 200;

export class Indexer {
  private readonly scanner = new EntityScanner(TEXT_BUDGET);
  private readonly splitter = new LineSplitter(this.scanner);
  private result: MessageIndex | null = null;
  /** An internal fault: the rest is only counted and a flat index is returned. */
  private failed = false;
  private bytes = 0;

  write(chunk: Buffer): void {
    if (this.result !== null) throw new Error('Indexer.write after finish');
    this.bytes += chunk.length;
    if (this.failed) return;
    try {
      this.splitter.write(chunk);
    } catch {
      this.failed = true;
    }
  }

  /** Octets written so far. */
  get size(): number {
    return this.bytes;
  }

  finish(): MessageIndex {
    if (this.result !== null) return this.result;
    if (!this.failed) {
      try {
        this.splitter.finish();
        const root = this.scanner.finish(this.splitter.offset, this.splitter.lines);
        this.result = buildIndex(root, this.scanner.rootEnvelope ?? emptyEnvelope(), this.scanner.rootFields, this.scanner.texts);
      } catch {
        this.failed = true;
      }
    }
    if (this.result === null) this.result = flatIndex(this.bytes);
    return this.result;
  }
}

export function indexMessage(raw: Buffer): MessageIndex {
  const indexer = new Indexer();
  indexer.write(raw);
  return indexer.finish();
}

function buildIndex(body: BodyPart, envelope: ImapEnvelope, fields: HeaderField[], texts: PartText[]): MessageIndex {
  const subject = decodeWords(envelope.subject ?? '');
  const date = parseMailDate(envelope.date);
  const refs = firstField(fields, 'references');
  return {
    version: 1,
    envelope,
    body,
    subject,
    baseSubject: baseSubject(subject),
    from: formatAddresses(envelope.from),
    to: formatAddresses(envelope.to),
    cc: formatAddresses(envelope.cc),
    sortFrom: sortKey(envelope.from),
    sortTo: sortKey(envelope.to),
    sortCc: sortKey(envelope.cc),
    sentDate: date?.ms ?? null,
    sentDay: date?.day ?? null,
    messageId: envelope.messageId === null ? null : (msgIds(envelope.messageId)[0] ?? nonEmpty(envelope.messageId)),
    inReplyTo: envelope.inReplyTo === null ? null : (msgIds(envelope.inReplyTo)[0] ?? null),
    references: refs === undefined ? [] : msgIds(refs.value),
    headers: fields.map((f) => [f.name, decodeWords(f.value)] as [string, string]),
    text: searchText(texts),
    hasAttachments: hasAttachments(body, null),
    preview: preview(texts),
  };
}

/** "<a@b> <c@d>" → ["<a@b>", "<c@d>"], whitespace inside removed. */
export function msgIds(value: string): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(/<([^<>]*)>/g)) {
    const id = m[1]!.replace(/\s+/g, '');
    if (id !== '') out.push(`<${id}>`);
  }
  return out;
}

function nonEmpty(s: string): string | null {
  const t = s.trim();
  return t === '' ? null : t;
}

function searchText(texts: PartText[]): string {
  let out = '';
  for (const t of texts) {
    if (t.text === '') continue;
    if (out !== '') out += '\n';
    out += t.text;
    if (out.length >= TEXT_MAX_CHARS) return cut(out, TEXT_MAX_CHARS);
  }
  return out;
}

/** Cuts at `max` UTF-16 units without splitting a surrogate pair. */
function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  const code = s.charCodeAt(max - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

function preview(texts: PartText[]): string {
  const candidates = texts.filter((t) => !t.attachment && !t.embedded);
  const pick = candidates.find((t) => !t.html && t.text.trim() !== '') ?? candidates.find((t) => t.text.trim() !== '');
  return pick === undefined ? '' : previewOf(pick.text, PREVIEW_CHARS);
}

/**
 * What a mail list shows a paperclip for: parts marked attachment, forwarded
 * messages, and non-text leaves other than inline images of a multipart/related.
 */
function hasAttachments(part: BodyPart, parent: BodyPart | null): boolean {
  if (part.parts !== undefined) return part.parts.some((c) => hasAttachments(c, part));
  if (part.disposition?.type === 'attachment') return true;
  if (part.message !== undefined) return true;
  if (part.type === 'text') return false;
  if (part.size === 0) return false;
  if (parent?.type === 'multipart' && parent.subtype === 'related' && part.id !== null) return false;
  const named = part.params.some(([k]) => k === 'name') || (part.disposition?.params.some(([k]) => k === 'filename') ?? false);
  if (named) return true;
  return part.disposition?.type !== 'inline';
}

/** The index of a message the scanner could not handle: one flat text/plain body. */
function flatIndex(size: number): MessageIndex {
  return {
    version: 1,
    envelope: emptyEnvelope(),
    body: {
      type: 'text',
      subtype: 'plain',
      params: [['charset', 'us-ascii']],
      id: null,
      description: null,
      encoding: '7bit',
      size,
      lines: 0,
      md5: null,
      disposition: null,
      language: null,
      location: null,
      headerStart: 0,
      bodyStart: 0,
      bodyEnd: size,
    },
    subject: '',
    baseSubject: '',
    from: '',
    to: '',
    cc: '',
    sortFrom: '',
    sortTo: '',
    sortCc: '',
    sentDate: null,
    sentDay: null,
    messageId: null,
    inReplyTo: null,
    references: [],
    headers: [],
    text: '',
    hasAttachments: false,
    preview: '',
  };
}
