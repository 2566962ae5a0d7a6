/**
 * A deterministic, realistic mail corpus for the benchmarks: the same seed gives
 * byte-identical messages on every machine, so mailroom and its peers (Dovecot,
 * Postfix) are always measured on the same mail.
 *
 * Messages are 2-50 KB by default (log-uniform, as real mailboxes are), a mix of
 * text/plain (45%), multipart/alternative text+html (30%) and multipart/mixed
 * with base64 attachments (25%); some reply to earlier ones (In-Reply-To,
 * References), some carry encoded-word (non-ASCII) subjects and names. Line ends
 * are CRLF and lines stay under 78 columns, as RFC 5322 asks.
 *
 *   generateCorpus({ count: 1000, seed: 42 })  -> CorpusMessage[]
 *   node --import tsx bench/peers/corpus.ts --out DIR [--count N --seed S]  -> DIR/NNNN.eml + manifest.json
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type CorpusKind = 'plain' | 'alternative' | 'attachment';

export interface CorpusMessage {
  /** 1-based position in the corpus. */
  n: number;
  raw: Buffer;
  kind: CorpusKind;
  subject: string;
  messageId: string;
}

export interface CorpusOptions {
  count?: number;
  seed?: number;
  minKb?: number;
  maxKb?: number;
  /** Recipient of every message (To:), e.g. the bench user; default: random people. */
  to?: string;
}

/** sfc32: small, fast, and the same on every platform (Math.random is not seedable). */
export function seededRandom(seed: number): () => number {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88 + seed;
  let c = 0xb7e15162 ^ (seed << 7);
  let d = 1;
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

const WORDS = (
  'the of and to in is that for it as with was on be by this are or at from have an they which one you ' +
  'were all we her she there would their will when who him been has more if no out so what up said about ' +
  'than its into them only could new some like other then time these two may first any my now such people ' +
  'over also did after most many where before through back years much your way well down should because ' +
  'each just those how too little state good very make world still own see men work long get here between ' +
  'both life being under never day same another know while last might us great old year off come since ' +
  'against go came right used take three meeting report budget project server mailbox delivery invoice ' +
  'schedule review quarter team customer release deadline agenda draft proposal update status network ' +
  'storage latency throughput benchmark index cache protocol message folder attachment'
).split(' ');
const FIRST = 'Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy Rupert Sybil Trent Victor Walter Zoe'.split(' ');
const LAST = 'Smith Jones Müller García Rossi Dubois Nowak Kowalski Tanaka Silva Johansson Novák Kim Chen Patel'.split(' ');
const DOMAINS = ['example.test', 'example.org', 'mail.example.net', 'corp.example.com', 'lists.example.org'];
const SUBJECTS = [
  'Quarterly report', 'Meeting notes', 'Re: budget', 'Invoice', 'Project status', 'Release plan',
  'Weekly update', 'Lunch?', 'Server outage', 'Draft proposal', 'Résumé attached', 'Überprüfung der Zahlen',
  'Agenda for Monday', 'Holiday schedule', 'Customer feedback', 'Build failure', 'Contract review', 'Travel booking',
];
const ATTACHMENTS: Array<[string, string]> = [
  ['report.pdf', 'application/pdf'], ['photo.jpg', 'image/jpeg'], ['diagram.png', 'image/png'],
  ['data.csv', 'text/csv'], ['archive.zip', 'application/zip'],
  ['slides.pptx', 'application/vnd.openxmlformats-officedocument.presentationml.presentation'],
];
const MAILERS = ['Thunderbird 115.3', 'Outlook 16.0', 'Apple Mail (2.3731)', 'mutt 2.2'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

class Gen {
  constructor(readonly rnd: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = Math.floor(this.rnd() * 4294967296);
      b[i] = v & 255;
      if (i + 1 < n) b[i + 1] = (v >>> 8) & 255;
      if (i + 2 < n) b[i + 2] = (v >>> 16) & 255;
      if (i + 3 < n) b[i + 3] = v >>> 24;
    }
    return b;
  }
}

function isAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

/** RFC 2047 B-encoding of a phrase, only when it needs it. */
function encodeWord(s: string): string {
  return isAscii(s) ? s : `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;
}

function person(g: Gen): string {
  const f = g.pick(FIRST);
  const l = g.pick(LAST);
  const local = `${f}.${l}`.toLowerCase().normalize('NFD').replace(/[^\x20-\x7e]/g, '');
  const name = `${f} ${l}`;
  return `${isAscii(name) ? `"${name}"` : encodeWord(name)} <${local}@${g.pick(DOMAINS)}>`;
}

function rfc5322Date(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${p(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function sentence(g: Gen): string {
  const n = g.int(6, 18);
  const ws: string[] = [];
  for (let i = 0; i < n; i++) ws.push(g.pick(WORDS));
  const s = ws.join(' ');
  return s[0]!.toUpperCase() + s.slice(1) + g.pick(['.', '.', '.', '?', '!']);
}

/** Paragraphs wrapped at 72 columns, as a normal mail client writes them; about `bytes` long. */
function textBody(g: Gen, bytes: number): string {
  const paras: string[] = [];
  let n = 0;
  while (n < bytes) {
    const target = g.int(200, 900);
    const lines: string[] = [];
    let line = '';
    let len = 0;
    while (len < target) {
      for (const w of sentence(g).split(' ')) {
        if (line.length + w.length + 1 > 72) {
          lines.push(line);
          line = w;
        } else line = line ? `${line} ${w}` : w;
        len += w.length + 1;
      }
    }
    lines.push(line);
    paras.push(lines.join('\r\n'));
    n += len + 2;
  }
  return `${paras.join('\r\n\r\n')}\r\n\r\n-- \r\nSent from the bench corpus\r\n`;
}

function htmlOf(text: string): string {
  const paras = text.split('\r\n\r\n').map((p) => `<p>${p}</p>`);
  return `<html><head><meta charset="utf-8"></head><body>\r\n${paras.join('\r\n')}\r\n</body></html>\r\n`;
}

function base64Lines(data: Buffer): string {
  const b64 = data.toString('base64');
  const out: string[] = [];
  for (let i = 0; i < b64.length; i += 76) out.push(b64.slice(i, i + 76));
  return `${out.join('\r\n')}\r\n`;
}

/** A text part; the generated text is ASCII with lines under 78 columns, so 7bit is right. */
function textPart(text: string, subtype: 'plain' | 'html'): string {
  return `Content-Type: text/${subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n${text}`;
}

function makeMessage(g: Gen, n: number, target: number, prevIds: string[], date0: number, to?: string): CorpusMessage {
  const headers: string[] = [];
  headers.push(`From: ${person(g)}`);
  const tos: string[] = [];
  const nTo = g.pick([1, 1, 1, 2, 3]);
  for (let i = 0; i < nTo; i++) tos.push(person(g));
  headers.push(`To: ${to ?? tos.join(',\r\n ')}`);
  if (g.rnd() < 0.3) headers.push(`Cc: ${person(g)}`);
  let subject = g.pick(SUBJECTS);
  if (prevIds.length && g.rnd() < 0.3) {
    const parent = g.pick(prevIds);
    headers.push(`In-Reply-To: ${parent}`, `References: ${parent}`);
    subject = `Re: ${subject}`;
  }
  subject = `${subject} #${n}`;
  headers.push(`Subject: ${encodeWord(subject)}`);
  headers.push(`Date: ${rfc5322Date(date0 + n * 3600 + g.int(0, 3000))}`);
  const messageId = `<corpus.${n}.${g.int(1e8, 1e9)}@bench.example.test>`;
  headers.push(`Message-ID: ${messageId}`);
  if (g.rnd() < 0.4) headers.push(`X-Mailer: ${g.pick(MAILERS)}`);
  if (g.rnd() < 0.2) headers.push('List-Id: <dev.lists.example.org>');
  headers.push('MIME-Version: 1.0');

  const r = g.rnd();
  const kind: CorpusKind = r < 0.45 ? 'plain' : r < 0.75 ? 'alternative' : 'attachment';
  const boundary = `=_bench_${n}_${g.int(1e8, 1e9)}`;
  let body: string;
  if (kind === 'plain') {
    headers.push('Content-Type: text/plain; charset="utf-8"', 'Content-Transfer-Encoding: 7bit');
    body = textBody(g, Math.max(300, target - 600));
  } else if (kind === 'alternative') {
    const t = textBody(g, Math.max(500, Math.floor(((target - 800) * 4) / 10)));
    headers.push(`Content-Type: multipart/alternative; boundary="${boundary}"`);
    body = `This is a multi-part message in MIME format.\r\n\r\n--${boundary}\r\n${textPart(t, 'plain')}\r\n` +
      `--${boundary}\r\n${textPart(htmlOf(t), 'html')}\r\n--${boundary}--\r\n`;
  } else {
    const t = textBody(g, g.int(400, 2500));
    headers.push(`Content-Type: multipart/mixed; boundary="${boundary}"`);
    const remaining = Math.max(512, target - t.length - 1200);
    const nAtt = remaining < 15000 ? 1 : g.pick([1, 2]);
    const parts = [`--${boundary}\r\n${textPart(t, 'plain')}\r\n`];
    for (let k = 0; k < nAtt; k++) {
      const [name, type] = g.pick(ATTACHMENTS);
      const data = g.bytes(Math.max(256, Math.floor((remaining * 3) / 4 / nAtt)));
      parts.push(
        `--${boundary}\r\nContent-Type: ${type}; name="${k}-${name}"\r\nContent-Transfer-Encoding: base64\r\n` +
          `Content-Disposition: attachment; filename="${k}-${name}"\r\n\r\n${base64Lines(data)}\r\n`,
      );
    }
    body = `This is a multi-part message in MIME format.\r\n\r\n${parts.join('')}--${boundary}--\r\n`;
  }
  const raw = Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body}`, 'utf8');
  return { n, raw, kind, subject, messageId };
}

/** The corpus, in order; same options give byte-identical messages. */
export function generateCorpus(opts: CorpusOptions = {}): CorpusMessage[] {
  const count = opts.count ?? 1000;
  const g = new Gen(seededRandom(opts.seed ?? 42));
  const lo = Math.log((opts.minKb ?? 2) * 1024);
  const hi = Math.log((opts.maxKb ?? 50) * 1024);
  const date0 = 1704067200; // 2024-01-01
  const ids: string[] = [];
  const out: CorpusMessage[] = [];
  for (let n = 1; n <= count; n++) {
    const target = Math.floor(Math.exp(lo + g.rnd() * (hi - lo)));
    const m = makeMessage(g, n, target, ids, date0, opts.to);
    ids.push(m.messageId);
    out.push(m);
  }
  return out;
}

export function corpusSummary(msgs: CorpusMessage[]): { count: number; totalBytes: number; min: number; max: number; mean: number; kinds: Record<CorpusKind, number> } {
  const sizes = msgs.map((m) => m.raw.length);
  const total = sizes.reduce((a, b) => a + b, 0);
  const kinds: Record<CorpusKind, number> = { plain: 0, alternative: 0, attachment: 0 };
  for (const m of msgs) kinds[m.kind]++;
  return {
    count: msgs.length,
    totalBytes: total,
    min: sizes.length ? Math.min(...sizes) : 0,
    max: sizes.length ? Math.max(...sizes) : 0,
    mean: sizes.length ? Math.round(total / sizes.length) : 0,
    kinds,
  };
}

// ---------------------------------------------------------------- command line
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const opt = (name: string, def: string): string => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] ? args[i + 1]! : def;
  };
  const out = opt('out', '.bench/corpus');
  const msgs = generateCorpus({ count: Number(opt('count', '1000')), seed: Number(opt('seed', '42')) });
  mkdirSync(out, { recursive: true });
  for (const m of msgs) writeFileSync(join(out, `${String(m.n).padStart(4, '0')}.eml`), m.raw);
  const summary = corpusSummary(msgs);
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(summary, null, 1));
  console.log(JSON.stringify(summary));
}
