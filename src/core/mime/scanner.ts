/**
 * Incremental MIME entity scanner: bytes in, the tree of BodyParts with exact
 * byte offsets out, in bounded memory.
 *
 * Rules it keeps (RFC 2045/2046, and Dovecot's lib-mail where the RFCs leave room;
 * dovecot.test.ts checks the result against Dovecot's own BODYSTRUCTURE):
 * - An entity is a header block, then a body. The header ends at the first
 *   empty line (which belongs to the header), or at a boundary, or at the end
 *   of input, or before the first line that is neither a field nor a
 *   continuation: the body begins on that line, as Postfix reads a message
 *   (Dovecot instead reads on and takes such lines as broken fields).
 * - A boundary line is "--" + boundary at the start of a line; like Dovecot, only
 *   the prefix must match, and when several active boundaries match, the longest
 *   wins (the innermost on a tie). "--" + boundary + "--" closes the multipart.
 * - The line end before a boundary line belongs to the boundary, not to the part
 *   before it (RFC 2046 section 5.1.1); a header cut short by a boundary loses its
 *   last line end the same way. That includes the line end right after a
 *   close-delimiter when an outer boundary follows (Dovecot counts that one into
 *   the inner entity, 2 octets and 1 line more).
 * - A boundary of an outer multipart closes every entity inside it: a missing
 *   close-delimiter makes the part end where the enclosing body ends.
 * - message/rfc822 and message/global bodies are scanned as messages; a
 *   multipart/digest child without Content-Type is message/rfc822.
 * - Limits as Dovecot's: 100 levels of nesting (deeper multiparts get no
 *   children, deeper messages become application/octet-stream) and 10000 parts
 *   (later boundaries start no new part). A multipart without children gets one
 *   empty text/plain child, as Dovecot reports it, so every multipart has a part 1.
 * - Memory: each header block up to HEADER_CAP (message) or PART_HEADER_CAP
 *   (MIME part) bytes; the raw bytes of text/* parts up to a shared budget (for
 *   search text); everything else is only counted.
 */
import { ByteCollector } from './bytes.js';
import { emptyPart, partInfo, type PartInfo } from './content.js';
import { buildEnvelope, emptyEnvelope } from './envelope.js';
import { parseHeaderBlock, isFieldStart, type HeaderField } from './header.js';
import type { LineSink } from './lines.js';
import { decodeBodyText } from './text.js';
import type { BodyPart, ImapEnvelope } from './types.js';

export const MAX_DEPTH = 100;
export const MAX_PARTS = 10000;
/** Bytes of a message header kept for parsing (the rest is counted, not parsed). */
export const HEADER_CAP = 256 * 1024;
/** The same for a MIME part header, which only carries a few Content-* fields. */
export const PART_HEADER_CAP = 64 * 1024;

/** Decoded text of one text/* leaf, in document order. */
export interface PartText {
  text: string;
  html: boolean;
  attachment: boolean;
  /** Inside an encapsulated message (message/rfc822). */
  embedded: boolean;
}

interface Frame {
  headerStart: number;
  phase: 'header' | 'body';
  header: ByteCollector;
  headerFull: boolean;
  /** Some field line was seen (continuations need one). */
  hasField: boolean;
  /** Top of a message (the root, or the body of a message/rfc822): has an envelope. */
  isMessage: boolean;
  inDigest: boolean;
  embedded: boolean;
  // known once the header ended
  kind: 'leaf' | 'multipart' | 'message';
  info: PartInfo | null;
  envelope: ImapEnvelope | null;
  bodyStart: number;
  bodyStartLf: number;
  /** Multipart: "--boundary" while it may still match (not after the close-delimiter). */
  delimiter: Buffer | null;
  children: BodyPart[];
  /** message/rfc822: the encapsulated message once closed. */
  message: BodyPart | null;
  messageEnvelope: ImapEnvelope | null;
  /** text/* leaf: raw body bytes gathered for search text. */
  sink: ByteCollector | null;
}

const NL: Record<number, Buffer> = { 1: Buffer.from('\n'), 2: Buffer.from('\r\n') };

export class EntityScanner implements LineSink {
  private readonly stack: Frame[] = [];
  private route: 'header' | 'body' | 'skip' = 'body';
  /** The current line is the empty line that ends the header. */
  private headerEndsAfterLine = false;
  /** The current line is a boundary after which a new child begins. */
  private childAfterLine = false;
  /** The current line is a close-delimiter ("--b--"). */
  private closeLine = false;
  /** Line end length of the previous line while it may still belong to a following boundary. */
  private pendingNl = 0;
  private curLf = 0;
  private activeBoundaries = 0;
  private parts = 1;
  private textBudget: number;

  root: BodyPart | null = null;
  rootEnvelope: ImapEnvelope | null = null;
  rootFields: HeaderField[] = [];
  readonly texts: PartText[] = [];

  constructor(textBudget: number) {
    this.textBudget = textBudget;
    this.stack.push(newFrame(0, { isMessage: true, inDigest: false, embedded: false }));
  }

  // ------------------------------------------------------------ LineSink

  lineStart(start: number, lf: number, buf: Buffer, from: number, to: number): void {
    this.curLf = lf;
    if (this.activeBoundaries > 0 && to - from >= 2 && buf[from] === 0x2d && buf[from + 1] === 0x2d) {
      const m = this.matchBoundary(buf, from, to);
      if (m !== null) {
        this.onBoundary(m.index, m.close, start, lf);
        return;
      }
    }
    const top = this.top();
    if (top.phase === 'header') {
      if (to === from) {
        this.route = 'header';
        this.headerEndsAfterLine = true;
        return;
      }
      const first = buf[from];
      const continuation = (first === 0x20 || first === 0x09) && top.hasField;
      const head = buf.subarray(from, to);
      const mboxFrom = top.isMessage && top.header.length === 0 && (startsWith(head, 'From ') || startsWith(head, '>From '));
      if (continuation || mboxFrom || isFieldStart(head)) {
        if (!continuation && !mboxFrom) top.hasField = true;
        this.route = 'header';
        this.appendHeader(top, buf, from, to);
        return;
      }
      // Neither field nor continuation: the header ended before this line, which is body.
      this.pendingNl = 0;
      this.endHeader(top, start, lf);
      this.lineStart(start, lf, buf, from, to);
      return;
    }
    this.route = 'body';
    if (top.sink === null) {
      this.pendingNl = 0;
      return;
    }
    if (this.pendingNl > 0) {
      this.toSink(top, NL[this.pendingNl]!, 0, this.pendingNl);
      this.pendingNl = 0;
    }
    this.toSink(top, buf, from, to);
  }

  lineMore(buf: Buffer, from: number, to: number): void {
    if (this.route === 'header') this.appendHeader(this.top(), buf, from, to);
    else if (this.route === 'body') this.toSink(this.top(), buf, from, to);
  }

  lineEnd(nl: 0 | 1 | 2, end: number): void {
    const top = this.top();
    switch (this.route) {
      case 'header':
        if (this.headerEndsAfterLine) {
          this.headerEndsAfterLine = false;
          this.pendingNl = 0;
          this.endHeader(top, end, this.curLf + (nl > 0 ? 1 : 0));
        } else {
          if (nl > 0) this.appendHeader(top, NL[nl]!, 0, nl);
          this.pendingNl = nl;
        }
        break;
      case 'body':
        this.pendingNl = nl;
        break;
      case 'skip':
        // After "--b" the line end belongs to the boundary line; after "--b--" it may be the line end
        // before an outer boundary (RFC 2046: the CRLF before a boundary belongs to that boundary).
        this.pendingNl = this.closeLine ? nl : 0;
        this.closeLine = false;
        if (this.childAfterLine && nl > 0 && this.parts < MAX_PARTS) {
          const parent = top;
          this.parts++;
          this.stack.push(
            newFrame(end, {
              isMessage: false,
              inDigest: parent.info?.subtype === 'digest',
              embedded: parent.embedded,
            }),
          );
        }
        this.childAfterLine = false;
        break;
    }
  }

  /** End of input at `end`, with `lf` LFs in all. Returns the root part. */
  finish(end: number, lf: number): BodyPart {
    // No boundary follows: the last line end belongs to the body it ends.
    if (this.pendingNl > 0 && this.top().phase === 'body') this.toSink(this.top(), NL[this.pendingNl]!, 0, this.pendingNl);
    this.pendingNl = 0;
    this.closeAbove(-1, end, lf);
    return this.root!;
  }

  // ------------------------------------------------------------ internals

  private top(): Frame {
    return this.stack[this.stack.length - 1]!;
  }

  private matchBoundary(buf: Buffer, from: number, to: number): { index: number; close: boolean } | null {
    let best = -1;
    let bestLen = 0;
    const len = to - from;
    const third = buf[from + 2];
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const d = this.stack[i]!.delimiter;
      if (d === null || d.length > len || d.length <= bestLen) continue;
      if (d.length > 2 && d[2] !== third) continue; // cheap reject before the compare
      if (buf.compare(d, 0, d.length, from, from + d.length) === 0) {
        best = i;
        bestLen = d.length;
      }
    }
    if (best === -1) return null;
    const close = len >= bestLen + 2 && buf[from + bestLen] === 0x2d && buf[from + bestLen + 1] === 0x2d;
    return { index: best, close };
  }

  private onBoundary(index: number, close: boolean, start: number, lf: number): void {
    const endPos = start - this.pendingNl;
    const endLf = this.pendingNl > 0 ? lf - 1 : lf;
    this.pendingNl = 0;
    this.closeAbove(index, endPos, endLf);
    const m = this.stack[index]!;
    if (close) {
      m.delimiter = null;
      this.activeBoundaries--;
      this.closeLine = true;
    } else {
      this.childAfterLine = true;
    }
    this.route = 'skip';
  }

  /** Closes every frame above stack[index] at `end` (index -1: all). */
  private closeAbove(index: number, end: number, endLf: number): void {
    while (this.stack.length - 1 > index) {
      const f = this.top();
      if (f.phase === 'header') {
        // The header runs to `end`; ending it may open an encapsulated message, closed next round.
        this.endHeader(f, end, endLf);
        continue;
      }
      this.stack.pop();
      this.closeFrame(f, Math.max(end, f.bodyStart), Math.max(endLf, f.bodyStartLf));
    }
  }

  private endHeader(f: Frame, bodyStart: number, bodyStartLf: number): void {
    f.phase = 'body';
    f.bodyStart = bodyStart;
    f.bodyStartLf = bodyStartLf;
    const fields = parseHeaderBlock(f.header.bytes());
    f.header = new ByteCollector(0);
    const info = partInfo(fields, f.inDigest, f.isMessage);
    f.info = info;
    if (f.isMessage) {
      f.envelope = buildEnvelope(fields);
      if (this.stack[0] === f) this.rootFields = fields;
    }
    const roomForMore = this.stack.length < MAX_DEPTH && this.parts < MAX_PARTS;
    if (info.type === 'multipart') {
      f.kind = 'multipart';
      if (info.delimiter !== null && roomForMore) {
        f.delimiter = info.delimiter;
        this.activeBoundaries++;
      }
    } else if (info.type === 'message' && (info.subtype === 'rfc822' || info.subtype === 'global')) {
      if (roomForMore) {
        f.kind = 'message';
        this.parts++;
        this.stack.push(newFrame(bodyStart, { isMessage: true, inDigest: false, embedded: true }));
      } else {
        f.kind = 'leaf';
        info.type = 'application';
        info.subtype = 'octet-stream';
        info.params = [];
      }
    } else {
      f.kind = 'leaf';
      if (info.type === 'text' && this.textBudget > 0) f.sink = new ByteCollector(this.textBudget);
    }
  }

  private closeFrame(f: Frame, end: number, endLf: number): void {
    if (f.delimiter !== null) {
      f.delimiter = null;
      this.activeBoundaries--;
    }
    const info = f.info!;
    const part: BodyPart = {
      type: info.type,
      subtype: info.subtype,
      params: info.params,
      id: info.id,
      description: info.description,
      encoding: info.encoding,
      size: end - f.bodyStart,
      lines: info.type === 'text' || f.kind === 'message' ? endLf - f.bodyStartLf : null,
      md5: info.md5,
      disposition: info.disposition,
      language: info.language,
      location: info.location,
      headerStart: f.headerStart,
      bodyStart: f.bodyStart,
      bodyEnd: end,
    };
    if (f.kind === 'message') {
      part.envelope = f.messageEnvelope ?? emptyEnvelope();
      part.message = f.message ?? emptyPart(f.bodyStart);
    } else if (f.kind === 'multipart') {
      part.parts = f.children.length > 0 ? f.children : [emptyPart(f.bodyStart)];
    } else if (f.sink !== null) {
      const charset = info.params.find(([k]) => k === 'charset')?.[1];
      const html = info.subtype === 'html';
      this.texts.push({
        text: decodeBodyText(f.sink.bytes(), info.encoding, charset, html),
        html,
        attachment: info.disposition?.type === 'attachment',
        embedded: f.embedded,
      });
      f.sink = null;
    }
    const parent = this.stack[this.stack.length - 1];
    if (parent === undefined) {
      this.root = part;
      this.rootEnvelope = f.envelope;
    } else if (parent.kind === 'message') {
      parent.message = part;
      parent.messageEnvelope = f.envelope;
    } else {
      parent.children.push(part);
    }
  }

  private appendHeader(f: Frame, buf: Buffer, from: number, to: number): void {
    if (f.headerFull || to <= from) return;
    if (f.header.length + (to - from) > (f.isMessage ? HEADER_CAP : PART_HEADER_CAP)) {
      f.headerFull = true;
      return;
    }
    f.header.push(buf, from, to);
  }

  private toSink(f: Frame, buf: Buffer, from: number, to: number): void {
    if (f.sink === null || this.textBudget <= 0 || to <= from) return;
    const take = Math.min(to - from, this.textBudget);
    f.sink.push(buf, from, from + take);
    this.textBudget -= take;
  }
}

function newFrame(headerStart: number, o: { isMessage: boolean; inDigest: boolean; embedded: boolean }): Frame {
  return {
    headerStart,
    phase: 'header',
    header: new ByteCollector(o.isMessage ? HEADER_CAP : PART_HEADER_CAP),
    headerFull: false,
    hasField: false,
    isMessage: o.isMessage,
    inDigest: o.inDigest,
    embedded: o.embedded,
    kind: 'leaf',
    info: null,
    envelope: null,
    bodyStart: headerStart,
    bodyStartLf: 0,
    delimiter: null,
    children: [],
    message: null,
    messageEnvelope: null,
    sink: null,
  };
}

function startsWith(buf: Buffer, s: string): boolean {
  if (buf.length < s.length) return false;
  for (let i = 0; i < s.length; i++) if (buf[i] !== s.charCodeAt(i)) return false;
  return true;
}
