/**
 * Answering FETCH (RFC 3501 6.4.5 / 7.4.2, RFC 9051, RFC 3516 BINARY, RFC 7162
 * CHANGEDSINCE/VANISHED): flags and sizes from the message rows, ENVELOPE and
 * BODYSTRUCTURE from the delivery-time index, body sections as byte ranges of
 * the blob (core/mime/sections.ts) streamed to the client. Nothing re-parses a
 * message.
 */
import type { Readable } from 'node:stream';
import { decodeTransfer, filterHeaderFields, findPart, sectionRange, type ParsedSection } from '../../core/mime/sections.js';
import type { MessageMeta, MessageRecord } from '../../store/types.js';
import { errors } from '../errors.js';
import { imapDateTime, PieceList, type Piece } from '../responses/encode.js';
import type { SelectedMailbox } from '../selected.js';
import type { Session } from '../session.js';
import { renderBodyStructure, renderEnvelope } from './structure.js';
import { needsIndex, sectionName, setsSeen, type FetchItem, type FetchRequest, type SectionSpec } from './items.js';

const BATCH = 200;
const BYTES_BATCH = 32;
/** Messages up to this size are read whole, in parallel, when a FETCH needs their bytes. */
const PREFETCH_BYTES = 256 * 1024;
const PREFETCH_PARALLEL = 16;

/** The whole message, when prefetch read it (keyed by the record object of this FETCH). */
const wholeMessage = new WeakMap<MessageMeta, Buffer>();

/** The top-level header of each message, when that is all a FETCH needs (keyed like wholeMessage). */
const topHeader = new WeakMap<MessageMeta, Buffer>();

function needsBytes(items: FetchItem[]): boolean {
  return items.some((i) => i.kind === 'SECTION' || i.kind === 'BINARY.SIZE' || i.kind === 'RFC822' || i.kind === 'RFC822.HEADER' || i.kind === 'RFC822.TEXT');
}

/** Whether the only bytes needed are the message's own header (the common "list headers" FETCH). */
function headerOnly(items: FetchItem[]): boolean {
  return items.every(
    (i) =>
      i.kind === 'RFC822.HEADER' ||
      (i.kind === 'SECTION' && !i.binary && i.section.part.length === 0 && (i.section.text === 'HEADER' || i.section.text === 'HEADER.FIELDS' || i.section.text === 'HEADER.FIELDS.NOT')) ||
      !needsBytes([i]),
  );
}

interface Prefetched {
  whole: Map<number, Buffer>;
  header: Map<number, Buffer>;
}

/** Reads what a batch needs, in parallel: headers (from the cache when there) or whole small messages. */
async function prefetch(s: Session, records: Array<MessageMeta | MessageRecord>, onlyHeader: boolean): Promise<Prefetched> {
  const out: Prefetched = { whole: new Map(), header: new Map() };
  const cache = s.ctx.headerCache;
  const todo: Array<MessageMeta | MessageRecord> = [];
  for (const m of records) {
    const cached = onlyHeader ? cache.get(m.blobId) : undefined;
    if (cached) out.header.set(m.uid, cached);
    else if (onlyHeader || m.size <= PREFETCH_BYTES) todo.push(m);
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(PREFETCH_PARALLEL, todo.length) }, async () => {
      while (next < todo.length) {
        const m = todo[next++]!;
        const bodyStart = 'index' in m ? m.index.body.bodyStart : m.size;
        if (m.size <= PREFETCH_BYTES) {
          const whole = await s.store.blobs.read(m.blobId);
          out.whole.set(m.uid, whole);
          if ('index' in m) cache.set(m.blobId, whole.subarray(0, bodyStart));
        } else {
          const header = await collect(await s.store.blobs.open(m.blobId, { start: 0, end: bodyStart }));
          out.header.set(m.uid, header);
          cache.set(m.blobId, header);
        }
      }
    }),
  );
  return out;
}
/** Ranges at most this big are read into memory; bigger ones are streamed. */
const INLINE_BYTES = 64 * 1024;
/** Metadata-only FETCH of this many messages reads the whole mailbox list at once. */
const LIST_ALL_ABOVE = 2000;

export async function runFetch(s: Session, uids: number[], req: FetchRequest, byUid: boolean): Promise<void> {
  const mb = s.selected();
  let items = req.items;
  if (byUid && !items.some((i) => i.kind === 'UID')) items = [{ kind: 'UID' }, ...items];
  const changedSince = req.modifiers.changedSince;
  if (changedSince !== undefined || items.some((i) => i.kind === 'MODSEQ')) s.enabled.add('CONDSTORE');
  if (changedSince !== undefined && !items.some((i) => i.kind === 'MODSEQ')) items = [...items, { kind: 'MODSEQ' }];
  const markSeen = !mb.readOnly && setsSeen(items);
  const withIndex = needsIndex(items);

  const all = !withIndex && uids.length > LIST_ALL_ABOVE ? await s.store.listMessages(mb.id) : null;
  const byUidMap = all ? new Map(all.map((m) => [m.uid, m])) : null;

  // Batches that carry message bytes are smaller: at most BYTES_BATCH × PREFETCH_BYTES held at once.
  const step = needsBytes(items) ? BYTES_BATCH : BATCH;
  for (let i = 0; i < uids.length; i += step) {
    const batch = uids.slice(i, i + step);
    let records: Array<MessageMeta | MessageRecord> = byUidMap
      ? batch.map((u) => byUidMap.get(u)).filter((m): m is MessageMeta => m !== undefined)
      : await s.store.getMessages(mb.id, batch);
    if (changedSince !== undefined) records = records.filter((m) => m.modseq > changedSince);
    const flagsChanged = new Set<number>();
    if (markSeen) {
      const unseen = records.filter((m) => !m.flags.includes('\\Seen')).map((m) => m.uid);
      if (unseen.length > 0) {
        const res = await s.store.storeFlags(mb.id, unseen, 'add', ['\\Seen']);
        const byUidUpd = new Map(res.updated.map((u) => [u.uid, u]));
        records = records.map((m) => {
          const u = byUidUpd.get(m.uid);
          if (!u) return m;
          mb.noteOwn(u.uid, u.modseq);
          flagsChanged.add(u.uid);
          return { ...m, flags: u.flags, modseq: u.modseq };
        });
      }
    }
    // Read the bytes the batch needs in parallel (one read per message), not one after another.
    const bytes = needsBytes(items) ? await prefetch(s, records, headerOnly(items)) : null;
    for (const m of records) {
      const seq = mb.view.seqOf(m.uid);
      if (seq === 0) continue;
      const raw = bytes?.whole.get(m.uid);
      if (raw) wholeMessage.set(m as MessageMeta, raw);
      const head = bytes?.header.get(m.uid);
      if (head) topHeader.set(m as MessageMeta, head);
      const out = new PieceList();
      out.push(`* ${seq} FETCH (`);
      let first = true;
      let sawFlags = false;
      for (const item of items) {
        if (!first) out.push(' ');
        first = false;
        if (item.kind === 'FLAGS') sawFlags = true;
        await renderItem(s, mb, m, item, out);
      }
      // Flags that changed because of this FETCH are reported with it (RFC 3501 6.4.5).
      if (flagsChanged.has(m.uid) && !sawFlags) out.push(' FLAGS ', s.formatFlags(m.flags, m.uid));
      out.push(')\r\n');
      await s.sendPieces(out.done());
    }
  }
}

async function renderItem(s: Session, mb: SelectedMailbox, m: MessageMeta | MessageRecord, item: FetchItem, out: PieceList): Promise<void> {
  const opts = s.encodeOptions;
  switch (item.kind) {
    case 'UID':
      out.push(`UID ${m.uid}`);
      return;
    case 'FLAGS':
      out.push('FLAGS ', s.formatFlags(m.flags, m.uid));
      return;
    case 'INTERNALDATE':
      out.push('INTERNALDATE ', imapDateTime(m.internalDate));
      return;
    case 'RFC822.SIZE':
      out.push(`RFC822.SIZE ${m.size}`);
      return;
    case 'MODSEQ':
      out.push(`MODSEQ (${m.modseq})`);
      return;
  }
  const rec = m as MessageRecord;
  const index = rec.index;
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
    case 'RFC822':
      out.push('RFC822 ', await rangePiece(s, m, 0, m.size));
      return;
    case 'RFC822.HEADER':
      out.push('RFC822.HEADER ', await rangePiece(s, m, index.body.headerStart, index.body.bodyStart));
      return;
    case 'RFC822.TEXT':
      out.push('RFC822.TEXT ', await rangePiece(s, m, index.body.bodyStart, Math.min(index.body.bodyEnd, m.size)));
      return;
    case 'BINARY.SIZE': {
      const data = await binaryData(s, rec, item.section);
      out.push(`BINARY.SIZE[${item.section.part.join('.')}] ${data ? data.length : 0}`);
      return;
    }
    case 'SECTION':
      await renderSection(s, rec, item, out);
      return;
  }
  void mb;
}

async function renderSection(s: Session, m: MessageRecord, item: Extract<FetchItem, { kind: 'SECTION' }>, out: PieceList): Promise<void> {
  const origin = item.partial ? `<${item.partial.start}>` : '';
  const name = item.binary ? `BINARY[${item.section.part.join('.')}]${origin} ` : `BODY[${sectionName(item.section)}]${origin} `;
  out.push(name);
  if (item.binary) {
    const data = await binaryData(s, m, item.section);
    if (data === null) {
      out.push('""');
      return;
    }
    const slice = partial(data, item.partial);
    out.push(Buffer.concat([Buffer.from(slice.includes(0) ? `~{${slice.length}}\r\n` : `{${slice.length}}\r\n`), slice]));
    return;
  }
  const parsed: ParsedSection = { path: item.section.part, text: item.section.text === '' ? null : item.section.text };
  const range = sectionRange(m.index, parsed);
  if (range === null) {
    out.push('""');
    return;
  }
  const end = Math.min(range.end, m.size);
  if (item.section.text === 'HEADER.FIELDS' || item.section.text === 'HEADER.FIELDS.NOT') {
    const header = await readRange(s, m, range.start, end);
    const data = filterHeaderFields(header, item.section.fields, item.section.text === 'HEADER.FIELDS.NOT');
    out.push(literal(partial(data, item.partial)));
    return;
  }
  let start = range.start;
  let stop = end;
  if (item.partial) {
    start = Math.min(range.start + item.partial.start, end);
    stop = Math.min(start + item.partial.length, end);
  }
  out.push(await rangePiece(s, m, start, stop));
}

function partial(data: Buffer, p: { start: number; length: number } | null): Buffer {
  if (!p) return data;
  return data.subarray(Math.min(p.start, data.length), Math.min(p.start + p.length, data.length));
}

function literal(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`{${data.length}}\r\n`), data]);
}

/** Decoded content of a part for BINARY[] (null when the part does not exist). */
async function binaryData(s: Session, m: MessageRecord, section: SectionSpec): Promise<Buffer | null> {
  if (section.part.length === 0) return readRange(s, m, 0, m.size);
  const part = findPart(m.index.body, section.part);
  if (!part) return null;
  const raw = await readRange(s, m, part.bodyStart, Math.min(part.bodyEnd, m.size));
  if (part.type === 'multipart' || part.type === 'message') return raw;
  const decoded = decodeTransfer(raw, part.encoding || '7bit');
  if (!decoded.ok) throw errors.unknownCte();
  return decoded.data;
}

async function readRange(s: Session, m: MessageMeta, start: number, end: number): Promise<Buffer> {
  if (end <= start) return Buffer.alloc(0);
  const whole = wholeMessage.get(m);
  if (whole) return whole.subarray(start, Math.min(end, whole.length));
  const head = topHeader.get(m);
  if (head && end <= head.length) return head.subarray(start, end);
  const stream = await s.store.blobs.open(m.blobId, { start, end });
  return collect(stream);
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A literal of blob bytes [start, end): inline when small, streamed otherwise. */
async function rangePiece(s: Session, m: MessageMeta, start: number, end: number): Promise<Piece> {
  const size = Math.max(0, end - start);
  if (size <= INLINE_BYTES || wholeMessage.has(m) || (topHeader.get(m)?.length ?? 0) >= end) return literal(await readRange(s, m, start, end));
  return { size, open: () => s.store.blobs.open(m.blobId, { start, end }) };
}
