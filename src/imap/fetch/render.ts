/**
 * Answering FETCH (RFC 3501 6.4.5 / 7.4.2, RFC 9051, RFC 3516 BINARY, RFC 7162
 * CHANGEDSINCE/VANISHED): flags and sizes from the message rows, ENVELOPE and
 * BODYSTRUCTURE from the delivery-time index, body sections as byte ranges of
 * the blob (core/mime/sections.ts) streamed to the client. Nothing re-parses a
 * message.
 *
 * Cost rules: the index is loaded only when an item needs it; the bytes a
 * batch needs are read in parallel, small messages whole; the common "list
 * the headers" FETCH is answered from the header cache when it can be.
 */
import type { Readable } from 'node:stream';
import { decodeTransfer, filterHeaderFields, findPart, sectionRange } from '../../core/mime/sections.js';
import type { MessageMeta, MessageRecord } from '../../store/types.js';
import { errors } from '../errors.js';
import { imapDateTime, PieceList, type Piece } from '../responses/encode.js';
import type { Session } from '../session.js';
import { renderBodyStructure, renderEnvelope } from './structure.js';
import { sectionName, setsSeen, type FetchItem, type FetchRequest, type SectionSpec } from './items.js';

const BATCH = 200;
/** Batches that carry message bytes hold at most BYTES_BATCH × WHOLE_BYTES at once. */
const BYTES_BATCH = 32;
/** Messages up to this size are read whole (one read) when a FETCH needs their bytes. */
const WHOLE_BYTES = 256 * 1024;
/** Ranges at most this big go out inline; bigger ones are streamed from the blob. */
const INLINE_BYTES = 64 * 1024;
const PARALLEL_READS = 16;
/** Header-only FETCH of a big message without its index: the header is looked for in this prefix. */
const HEADER_PREFIX = 64 * 1024;
/** Metadata-only FETCH of this many messages reads the whole mailbox list at once. */
const LIST_ALL_ABOVE = 2000;

type Meta = MessageMeta | MessageRecord;

/**
 * Flags come from Store.getMessageMetas (no index to parse), so listing the
 * whole mailbox pays only for very large requests. (The parameters stay for
 * the callers; every Store has getMessageMetas now.)
 */
export function listAllIsCheaper(_s: Session, _mailboxCount: number, wanted: number): boolean {
  return wanted > LIST_ALL_ABOVE;
}

interface Needs {
  index: boolean;
  bytes: 'none' | 'header' | 'whole';
}

const TOP_HEADER = new Set(['HEADER', 'HEADER.FIELDS', 'HEADER.FIELDS.NOT']);
const META_ITEMS = new Set(['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'MODSEQ']);

/** One of the items answered from the message row alone. */
function metaItem(s: Session, m: Meta, item: FetchItem): string {
  switch (item.kind) {
    case 'UID':
      return `UID ${m.uid}`;
    case 'FLAGS':
      return 'FLAGS ' + s.formatFlags(m.flags, m.uid);
    case 'INTERNALDATE':
      return 'INTERNALDATE ' + imapDateTime(m.internalDate);
    case 'RFC822.SIZE':
      return `RFC822.SIZE ${m.size}`;
    case 'MODSEQ':
      return `MODSEQ (${m.modseq})`;
    default:
      throw new Error(`not a row item: ${item.kind}`);
  }
}

function isTopHeader(i: FetchItem): boolean {
  return i.kind === 'RFC822.HEADER' || (i.kind === 'SECTION' && !i.binary && i.section.part.length === 0 && TOP_HEADER.has(i.section.text));
}

function usesBytes(i: FetchItem): boolean {
  return i.kind === 'SECTION' || i.kind === 'BINARY.SIZE' || i.kind === 'RFC822' || i.kind === 'RFC822.HEADER' || i.kind === 'RFC822.TEXT';
}

export function needsOf(items: FetchItem[]): Needs {
  const byteItems = items.filter(usesBytes);
  const bytes = byteItems.length === 0 ? 'none' : byteItems.every(isTopHeader) ? 'header' : 'whole';
  const index = items.some(
    (i) =>
      i.kind === 'ENVELOPE' ||
      i.kind === 'BODYSTRUCTURE' ||
      i.kind === 'BODY' ||
      (i.kind === 'BINARY.SIZE' && i.section.part.length > 0) ||
      (i.kind === 'SECTION' && i.section.part.length > 0) ||
      // With whole messages in play, the header boundary comes from the index.
      (bytes === 'whole' && (isTopHeader(i) || i.kind === 'RFC822.TEXT' || (i.kind === 'SECTION' && i.section.text === 'TEXT'))),
  );
  return { index, bytes };
}

/** Bytes read for one message of the batch. */
interface Bytes {
  whole?: Buffer;
  /** The top-level header, blank line included. */
  header?: Buffer;
}

export async function runFetch(s: Session, uids: number[], req: FetchRequest, byUid: boolean): Promise<void> {
  const mb = s.selected();
  let items = req.items;
  if (byUid && !items.some((i) => i.kind === 'UID')) items = [{ kind: 'UID' }, ...items];
  const changedSince = req.modifiers.changedSince;
  if (changedSince !== undefined || items.some((i) => i.kind === 'MODSEQ')) s.enabled.add('CONDSTORE');
  if (changedSince !== undefined && !items.some((i) => i.kind === 'MODSEQ')) items = [...items, { kind: 'MODSEQ' }];
  const markSeen = !mb.readOnly && setsSeen(items);
  const needs = needsOf(items);

  const all = !needs.index && listAllIsCheaper(s, mb.view.count, uids.length) ? await s.store.listMessages(mb.id) : null;
  // Both lists are in UID order: walk them together (no map of 100,000 entries to build and collect).
  let cursor = 0;
  const fromList = (batch: number[]): MessageMeta[] => {
    const out: MessageMeta[] = [];
    for (const u of batch) {
      while (cursor < all!.length && all![cursor]!.uid < u) cursor++;
      if (cursor < all!.length && all![cursor]!.uid === u) out.push(all![cursor]!);
    }
    return out;
  };

  const step = needs.bytes === 'none' ? BATCH : BYTES_BATCH;
  const metaOnly = items.every((i) => META_ITEMS.has(i.kind));
  for (let i = 0; i < uids.length; i += step) {
    const batch = uids.slice(i, i + step);
    let records: Meta[] = all
      ? fromList(batch)
      : needs.index
        ? await s.store.getMessages(mb.id, batch)
        : await s.store.getMessageMetas(mb.id, batch);
    if (changedSince !== undefined) records = records.filter((m) => m.modseq > changedSince);
    const flagsChanged = new Set<number>();
    if (markSeen) {
      const unseen = records.filter((m) => !m.flags.includes('\\Seen')).map((m) => m.uid);
      if (unseen.length > 0) {
        const res = await s.store.storeFlags(mb.id, unseen, 'add', ['\\Seen']);
        const updates = new Map(res.updated.map((u) => [u.uid, u]));
        records = records.map((m) => {
          const u = updates.get(m.uid);
          if (!u) return m;
          mb.noteOwn(u.uid, u.modseq);
          flagsChanged.add(u.uid);
          return { ...m, flags: u.flags, modseq: u.modseq };
        });
      }
    }
    if (metaOnly) {
      // The hot path (flag sync of a whole mailbox): plain strings, no pieces, no awaits per message.
      for (const m of records) {
        const seq = mb.view.seqOf(m.uid);
        if (seq === 0) continue;
        let line = `* ${seq} FETCH (`;
        items.forEach((item, k) => {
          if (k > 0) line += ' ';
          line += metaItem(s, m, item);
        });
        if (flagsChanged.has(m.uid) && !items.some((x) => x.kind === 'FLAGS')) line += ' FLAGS ' + s.formatFlags(m.flags, m.uid);
        s.send(line + ')');
      }
      await s.conn.flushIfFull();
      continue;
    }
    const bytes = needs.bytes === 'none' ? null : await readBatch(s, mb.id, records, needs.bytes);
    for (const m of records) {
      const seq = mb.view.seqOf(m.uid);
      if (seq === 0) continue;
      const b = bytes?.get(m.uid) ?? {};
      const out = new PieceList();
      out.push(`* ${seq} FETCH (`);
      let first = true;
      for (const item of items) {
        if (!first) out.push(' ');
        first = false;
        await renderItem(s, m, b, item, out);
      }
      // Flags that changed because of this FETCH are reported with it (RFC 3501 6.4.5).
      if (flagsChanged.has(m.uid) && !items.some((x) => x.kind === 'FLAGS')) out.push(' FLAGS ', s.formatFlags(m.flags, m.uid));
      out.push(')\r\n');
      await s.sendPieces(out.done());
    }
  }
}

/** Where the top-level header ends (just past the blank line), or null if not within buf. */
export function headerEnd(buf: Buffer): number | null {
  if (buf[0] === 0x0d && buf[1] === 0x0a) return 2;
  const i = buf.indexOf('\r\n\r\n');
  return i >= 0 ? i + 4 : null;
}

/** Reads what a batch needs, PARALLEL_READS at a time. */
async function readBatch(s: Session, mailboxId: number, records: Meta[], mode: 'header' | 'whole'): Promise<Map<number, Bytes>> {
  const out = new Map<number, Bytes>();
  const cache = s.ctx.headerCache;
  const todo: Meta[] = [];
  for (const m of records) {
    const cached = mode === 'header' ? cache.get(m.blobId) : undefined;
    if (cached) out.set(m.uid, { header: cached });
    else if (mode === 'header' || m.size <= WHOLE_BYTES) todo.push(m);
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL_READS, todo.length) }, async () => {
      while (next < todo.length) {
        const m = todo[next++]!;
        if (m.size <= WHOLE_BYTES) {
          const whole = await s.store.blobs.read(m.blobId);
          const end = 'index' in m ? m.index.body.bodyStart : (headerEnd(whole) ?? whole.length);
          const header = whole.subarray(0, end);
          cache.set(m.blobId, header);
          out.set(m.uid, mode === 'whole' ? { whole, header } : { header });
          continue;
        }
        // A big message, header only: look for the header's end in a prefix, else ask the index.
        const prefix = await collect(await s.store.blobs.open(m.blobId, { start: 0, end: Math.min(m.size, HEADER_PREFIX) }));
        let end = 'index' in m ? m.index.body.bodyStart : headerEnd(prefix);
        if (end === null) end = (await s.store.getMessages(mailboxId, [m.uid]))[0]?.index.body.bodyStart ?? prefix.length;
        const header = end <= prefix.length ? prefix.subarray(0, end) : await collect(await s.store.blobs.open(m.blobId, { start: 0, end }));
        cache.set(m.blobId, header);
        out.set(m.uid, { header });
      }
    }),
  );
  return out;
}

async function renderItem(s: Session, m: Meta, b: Bytes, item: FetchItem, out: PieceList): Promise<void> {
  const opts = s.encodeOptions;
  if (META_ITEMS.has(item.kind)) {
    out.push(metaItem(s, m, item));
    return;
  }
  switch (item.kind) {
    case 'RFC822':
      out.push('RFC822 ', await rangePiece(s, m, b, 0, m.size));
      return;
    case 'RFC822.HEADER':
      out.push('RFC822.HEADER ', await rangePiece(s, m, b, 0, headerLength(m, b)));
      return;
    case 'RFC822.TEXT':
      out.push('RFC822.TEXT ', await rangePiece(s, m, b, headerLength(m, b), m.size));
      return;
    case 'SECTION':
      await renderSection(s, m, b, item, out);
      return;
  }
  const index = (m as MessageRecord).index;
  switch (item.kind) {
    case 'ENVELOPE':
      out.push('ENVELOPE ');
      renderEnvelope(index.envelope, opts, out);
      return;
    case 'BODYSTRUCTURE':
      out.push('BODYSTRUCTURE ');
      renderBodyStructure(index.body, true, opts, out);
      return;
    case 'BODY':
      out.push('BODY ');
      renderBodyStructure(index.body, false, opts, out);
      return;
    case 'BINARY.SIZE': {
      const data = await binaryData(s, m, b, item.section);
      out.push(`BINARY.SIZE[${item.section.part.join('.')}] ${data ? data.length : 0}`);
      return;
    }
  }
}

/** Octets of the top-level header, blank line included. */
function headerLength(m: Meta, b: Bytes): number {
  if ('index' in m) return Math.min(m.index.body.bodyStart, m.size);
  if (b.header) return b.header.length;
  throw new Error('header boundary unknown: the FETCH planner should have loaded the index');
}

async function renderSection(s: Session, m: Meta, b: Bytes, item: Extract<FetchItem, { kind: 'SECTION' }>, out: PieceList): Promise<void> {
  const origin = item.partial ? `<${item.partial.start}>` : '';
  out.push(item.binary ? `BINARY[${item.section.part.join('.')}]${origin} ` : `BODY[${sectionName(item.section)}]${origin} `);
  if (item.binary) {
    const data = await binaryData(s, m, b, item.section);
    if (data === null) {
      out.push('""');
      return;
    }
    const slice = partial(data, item.partial);
    out.push(Buffer.concat([Buffer.from(slice.includes(0) ? `~{${slice.length}}\r\n` : `{${slice.length}}\r\n`), slice]));
    return;
  }
  const sec = item.section;
  let range: { start: number; end: number } | null;
  if (sec.part.length === 0) {
    // The message's own sections need no index: its header ends at the first blank line.
    if (sec.text === '') range = { start: 0, end: m.size };
    else if (sec.text === 'TEXT') range = { start: headerLength(m, b), end: m.size };
    else range = { start: 0, end: headerLength(m, b) };
  } else {
    range = sectionRange((m as MessageRecord).index, { path: sec.part, text: sec.text === '' ? null : sec.text });
  }
  if (range === null) {
    out.push('""');
    return;
  }
  const end = Math.min(range.end, m.size);
  if (sec.text === 'HEADER.FIELDS' || sec.text === 'HEADER.FIELDS.NOT') {
    const header = await readRange(s, m, b, range.start, end);
    out.push(literal(partial(filterHeaderFields(header, sec.fields, sec.text === 'HEADER.FIELDS.NOT'), item.partial)));
    return;
  }
  let start = range.start;
  let stop = end;
  if (item.partial) {
    start = Math.min(range.start + item.partial.start, end);
    stop = Math.min(start + item.partial.length, end);
  }
  out.push(await rangePiece(s, m, b, start, stop));
}

function partial(data: Buffer, p: { start: number; length: number } | null): Buffer {
  if (!p) return data;
  return data.subarray(Math.min(p.start, data.length), Math.min(p.start + p.length, data.length));
}

function literal(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`{${data.length}}\r\n`), data]);
}

/** Decoded content of a part for BINARY[] (null when the part does not exist). */
async function binaryData(s: Session, m: Meta, b: Bytes, section: SectionSpec): Promise<Buffer | null> {
  if (section.part.length === 0) return readRange(s, m, b, 0, m.size);
  const part = findPart((m as MessageRecord).index.body, section.part);
  if (!part) return null;
  const raw = await readRange(s, m, b, part.bodyStart, Math.min(part.bodyEnd, m.size));
  if (part.type === 'multipart' || part.type === 'message') return raw;
  const decoded = decodeTransfer(raw, part.encoding || '7bit');
  if (!decoded.ok) throw errors.unknownCte();
  return decoded.data;
}

async function readRange(s: Session, m: Meta, b: Bytes, start: number, end: number): Promise<Buffer> {
  if (end <= start) return Buffer.alloc(0);
  if (b.whole) return b.whole.subarray(start, Math.min(end, b.whole.length));
  if (b.header && end <= b.header.length) return b.header.subarray(start, end);
  return collect(await s.store.blobs.open(m.blobId, { start, end }));
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A literal of blob bytes [start, end): inline when small or already read, streamed otherwise. */
async function rangePiece(s: Session, m: Meta, b: Bytes, start: number, end: number): Promise<Piece> {
  const size = Math.max(0, end - start);
  if (size <= INLINE_BYTES || b.whole || (b.header && end <= b.header.length)) return literal(await readRange(s, m, b, start, end));
  return { size, open: () => s.store.blobs.open(m.blobId, { start, end }) };
}
