/**
 * Deterministic, realistic test mail for the store benchmark: a seeded PRNG
 * picks the shape (plain text, multipart/alternative with HTML, multipart/mixed
 * with a base64 attachment), the size (2–50 KB) and the words. Every 100th
 * message mentions "Quarterly report" in its subject and "zebra crossing" in
 * its body, so the header and body searches have a known, sparse answer.
 */

/** mulberry32: small, fast, good enough for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COMMON = (
  'the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when ' +
  'your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into ' +
  'time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come ' +
  'made may part invoice meeting project budget deadline schedule review contract proposal customer server release update'
).split(' ');

/**
 * A vocabulary with the shape of real text: the common words above, then
 * 20,000 made-up words, drawn with Zipf's law (the k-th word with weight 1/k),
 * so that messages repeat words about as much as real mail does.
 */
const WORDS: string[] = (() => {
  const r = rng(42);
  const syl = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'ber', 'dan', 'fel', 'gor', 'hin', 'jus', 'kel', 'mor', 'pra', 'sen', 'tor', 'wen', 'x', 'str', 'qu', 'ly', 'ing'];
  const out = [...COMMON];
  const seen = new Set(out);
  while (out.length < COMMON.length + 20_000) {
    let w = '';
    const n = 1 + Math.floor(r() * 4);
    for (let i = 0; i < n; i++) w += syl[Math.floor(r() * syl.length)];
    if (!seen.has(w)) {
      seen.add(w);
      out.push(w);
    }
  }
  return out;
})();
const CUMULATIVE: Float64Array = (() => {
  const c = new Float64Array(WORDS.length);
  let sum = 0;
  for (let k = 0; k < WORDS.length; k++) c[k] = sum += 1 / (k + 1);
  for (let k = 0; k < c.length; k++) c[k] = c[k]! / sum;
  return c;
})();

function zipfWord(r: () => number): string {
  const x = r();
  let lo = 0;
  let hi = CUMULATIVE.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (CUMULATIVE[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return WORDS[lo]!;
}

const NAMES = ['Alice Martin', 'Bob Stone', 'Carol Díaz', 'Dmitri Ivanov', 'Eve Olsen', 'François Dupont', 'Grace Hopper', 'Heidi Müller'];
const DOMAINS = ['example.com', 'example.org', 'mail.example.net', 'corp.example'];

export interface GeneratedMessage {
  raw: Buffer;
  marker: boolean;
}

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)]!;
}

function sentence(r: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(zipfWord(r));
  const s = out.join(' ');
  return s[0]!.toUpperCase() + s.slice(1) + '.';
}

/**
 * Sentences for bodies come from a fixed pool (drawn once with Zipf's law), so
 * that making test mail does not cost more CPU than storing it.
 */
const SENTENCE_POOL: string[][] = (() => {
  const r = rng(7);
  return Array.from({ length: 8192 }, () => sentence(r, 4 + Math.floor(r() * 10)).split(' '));
})();

/** Text of about `bytes` bytes in lines under 78 characters, CRLF ends. */
function paragraphText(r: () => number, bytes: number, marker: boolean): string {
  const lines: string[] = [];
  let size = 0;
  let line = '';
  // On a line of its own, early, so that every marked message carries it unbroken.
  if (marker) lines.push('Meet me at the zebra crossing.');
  while (size < bytes) {
    for (const w of SENTENCE_POOL[Math.floor(r() * SENTENCE_POOL.length)]!) {
      if (line.length + w.length + 1 > 76) {
        lines.push(line);
        size += line.length + 2;
        line = '';
      }
      line = line ? `${line} ${w}` : w;
    }
    if (r() < 0.15) {
      lines.push(line, '');
      size += line.length + 4;
      line = '';
    }
  }
  if (line) lines.push(line);
  return lines.join('\r\n') + '\r\n';
}

function base64Lines(r: () => number, bytes: number): string {
  const buf = Buffer.alloc(Math.floor((bytes * 3) / 4));
  for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE((r() * 4294967296) >>> 0, Math.min(i, buf.length - 4));
  const b64 = buf.toString('base64');
  const out: string[] = [];
  for (let i = 0; i < b64.length; i += 76) out.push(b64.slice(i, i + 76));
  return out.join('\r\n') + '\r\n';
}

export function generateMessage(i: number, seed = 1): GeneratedMessage {
  const r = rng(seed * 1_000_003 + i);
  const target = 2048 + Math.floor(r() * 48 * 1024);
  const marker = i % 100 === 0;
  const fromName = pick(r, NAMES);
  const from = `${fromName} <${fromName.split(' ')[0]!.toLowerCase()}@${pick(r, DOMAINS)}>`;
  const subject = marker ? `Quarterly report ${i}: ${sentence(r, 3)}` : sentence(r, 2 + Math.floor(r() * 6)).slice(0, -1);
  const date = new Date(Date.UTC(2024, 0, 1) + i * 61_000);
  const head = [
    'Return-Path: <bounce@example.com>',
    `Received: from mx.example.com (mx.example.com [192.0.2.${i % 250}]) by mail.example.org with ESMTPS id Q${i}; ${date.toUTCString().replace('GMT', '+0000')}`,
    `From: ${from}`,
    'To: Bench User <bench@bench.example>',
    `Subject: ${subject}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${i}.${seed}@bench.example>`,
    'MIME-Version: 1.0',
  ];
  const shape = r();
  let body: string;
  if (shape < 0.5) {
    head.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit');
    body = paragraphText(r, target - 600, marker);
  } else if (shape < 0.8) {
    const b = `=_alt_${i}`;
    head.push(`Content-Type: multipart/alternative; boundary="${b}"`);
    const text = paragraphText(r, (target - 900) / 2, marker);
    const html = `<html><body><p>${text.replace(/\r\n\r\n/g, '</p><p>')}</p></body></html>\r\n`;
    body =
      `--${b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}` +
      `--${b}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${html}` +
      `--${b}--\r\n`;
  } else {
    const b = `=_mixed_${i}`;
    head.push(`Content-Type: multipart/mixed; boundary="${b}"`);
    const text = paragraphText(r, Math.min(4000, target / 4), marker);
    body =
      `--${b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}` +
      `--${b}\r\nContent-Type: application/pdf; name="report-${i}.pdf"\r\nContent-Disposition: attachment; filename="report-${i}.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n` +
      base64Lines(r, Math.max(512, target - text.length - 900)) +
      `--${b}--\r\n`;
  }
  return { raw: Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`, 'utf8'), marker };
}
