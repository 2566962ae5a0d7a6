/**
 * APPEND (RFC 3501 6.3.11, RFC 4315 APPENDUID, RFC 7889 APPENDLIMIT,
 * RFC 3516 literal8, RFC 6855 "UTF8 (...)"). The message literal is streamed
 * into the blob store while it arrives (session.ts), never held whole.
 */
import { isMessageTooLarge } from '../../store/ingest.js';
import { isStoreError } from '../../store/errors.js';
import { errors, no } from '../errors.js';
import { Cursor, ParseError, type StreamedLiteral } from '../parser/cursor.js';
import type { Frame } from '../parser/reader.js';
import { MONTHS } from '../responses/encode.js';
import type { IngestResult, Session } from '../session.js';
import { AUTHENTICATED, command } from './types.js';

const SYSTEM = new Set(['\\seen', '\\answered', '\\flagged', '\\deleted', '\\draft']);

interface AppendArgs {
  mailbox: Buffer;
  flags: string[];
  date: Date | undefined;
  message: Buffer | StreamedLiteral;
}

/** date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE */
export function parseDateTime(text: string): Date | null {
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (!m) return null;
  const month = MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase());
  const [d, y, hh, mi, ss, zh, zm] = [m[1], m[3], m[4], m[5], m[6], m[8], m[9]].map(Number) as number[];
  if (month < 0 || d! < 1 || d! > 31 || hh! > 23 || mi! > 59 || ss! > 60 || zm! > 59) return null;
  const offset = (m[7] === '-' ? -1 : 1) * (zh! * 60 + zm!);
  const t = Date.UTC(y!, month, d!, hh!, mi!, ss!) - offset * 60_000;
  return Number.isFinite(t) ? new Date(t) : null;
}

function parseHead(c: Cursor): Omit<AppendArgs, 'message'> {
  c.sp();
  const mailbox = c.astring();
  c.sp();
  let flags: string[] = [];
  if (c.peek() === 0x28) {
    flags = c.flagList();
    c.sp();
  }
  let date: Date | undefined;
  if (c.peek() === 0x22) {
    const text = c.quoted().toString('latin1');
    const d = parseDateTime(text);
    if (!d) throw new ParseError(`Invalid date-time ${text}`);
    date = d;
    c.sp();
  }
  return { mailbox, flags, date };
}

function parse(c: Cursor): AppendArgs {
  const head = parseHead(c);
  let message: Buffer | StreamedLiteral;
  if (c.tryWord('UTF8')) {
    c.sp();
    c.char('(');
    message = c.literal(true);
    c.char(')');
  } else {
    if (!c.isLiteralStart()) throw new ParseError('Expected the message as a literal');
    message = c.literal(true);
  }
  for (const f of head.flags) {
    if (f.startsWith('\\') && !SYSTEM.has(f.toLowerCase()) && f.toLowerCase() !== '\\recent') throw new ParseError(`Unknown system flag ${f}`);
  }
  return { ...head, message };
}

/**
 * The reader's stream policy: is the literal announced at the end of `prefix`
 * the message of an APPEND? (tag SP APPEND SP mailbox [SP flags] [SP date] SP [UTF8 SP "("])
 */
export function isAppendMessageLiteral(prefix: Buffer): boolean {
  try {
    const frame: Frame = { tag: '', bytes: prefix };
    const c = new Cursor(frame);
    c.token((b) => b !== 0x20, 'a tag');
    c.sp();
    if (!c.tryWord('APPEND')) return false;
    parseHead(c);
    if (c.tryWord('UTF8')) {
      c.sp();
      c.char('(');
    }
    return /^~?\{\d+\+?\}\r\n$/.test(prefix.toString('latin1', c.pos));
  } catch {
    return false;
  }
}

export const appendCommand = command({
  name: 'APPEND',
  states: AUTHENTICATED,
  parse,
  async run(s, a) {
    let ingested: IngestResult;
    const pending = Buffer.isBuffer(a.message) ? null : s.takeStreamed();
    const name = s.mailboxName(a.mailbox);
    const mailbox = await s.getMailbox(name);
    try {
      ingested = pending ? await pending : await s.ctx.ingest(a.message as Buffer, s.ctx.appendLimit);
    } catch (err) {
      if (isMessageTooLarge(err)) throw errors.tooBig();
      throw err;
    }
    if (!mailbox) throw errors.tryCreate();
    if (ingested.blob.size === 0) throw no(null, 'Empty message');
    const flags = a.flags.filter((f) => f.toLowerCase() !== '\\recent');
    try {
      const r = await s.store.append(mailbox.id, { blob: ingested.blob, index: ingested.index, flags, ...(a.date ? { internalDate: a.date } : {}) });
      return { code: `APPENDUID ${r.uidValidity} ${r.uid}`, text: 'APPEND completed' };
    } catch (err) {
      if (isStoreError(err, 'notFound')) throw errors.tryCreate();
      throw err;
    }
  },
});

