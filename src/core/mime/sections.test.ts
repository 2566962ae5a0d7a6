import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indexMessage } from './index.js';
import { decodeTransfer, decodeTransferStream, filterHeaderFields, findPart, parseSection, sectionRange } from './sections.js';
import { Readable } from 'node:stream';

const crlf = (...lines: string[]) => Buffer.from(lines.join('\r\n'), 'utf8');

// RFC 3501 section 6.4.5's example structure, trimmed: mixed(1 text, 2 octet, 3 rfc822(mixed(3.1 text, 3.2 octet)), 4 mixed(4.1 image, 4.2 rfc822(mixed(4.2.1 text, 4.2.2 alternative(4.2.2.1 text, 4.2.2.2 richtext))))).
const INNER2 = crlf(
  'Subject: 4.2',
  'Content-Type: multipart/mixed; boundary=d',
  '',
  '--d',
  '',
  'part 4.2.1',
  '--d',
  'Content-Type: multipart/alternative; boundary=e',
  '',
  '--e',
  '',
  'part 4.2.2.1',
  '--e',
  'Content-Type: text/richtext',
  '',
  'part 4.2.2.2',
  '--e--',
  '--d--',
);
const RAW = crlf(
  'Subject: top',
  'X-A: 1',
  'X-Folded: one',
  '  two',
  'x-a: 2',
  'Content-Type: multipart/mixed; boundary=a',
  '',
  '--a',
  '',
  'part 1',
  '--a',
  'Content-Type: application/octet-stream',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('part 2 bytes').toString('base64'),
  '--a',
  'Content-Type: message/rfc822',
  '',
  'Subject: 3',
  'Content-Type: multipart/mixed; boundary=b',
  '',
  '--b',
  '',
  'part 3.1',
  '--b',
  'Content-Type: application/octet-stream',
  '',
  'part 3.2',
  '--b--',
  '--a',
  'Content-Type: multipart/mixed; boundary=c',
  '',
  '--c',
  'Content-Type: image/gif',
  '',
  'part 4.1',
  '--c',
  'Content-Type: message/rfc822',
  '',
  INNER2.toString(),
  '--c--',
  '--a--',
  '',
);
const idx = indexMessage(RAW);
const at = (spec: string) => {
  const r = sectionRange(idx, spec);
  return r === null ? null : RAW.subarray(r.start, r.end).toString();
};

test('section numbering follows RFC 3501 6.4.5', () => {
  assert.equal(at('1'), 'part 1');
  assert.equal(Buffer.from(at('2')!, 'base64').toString(), 'part 2 bytes');
  assert.equal(at('3.1'), 'part 3.1');
  assert.equal(at('3.2'), 'part 3.2');
  assert.equal(at('4.1'), 'part 4.1');
  assert.equal(at('4.2'), INNER2.toString());
  assert.equal(at('4.2.1'), 'part 4.2.1');
  assert.equal(at('4.2.2.1'), 'part 4.2.2.1');
  assert.equal(at('4.2.2.2'), 'part 4.2.2.2');
  assert.equal(findPart(idx.body, '4.2.2')!.subtype, 'alternative');
  assert.equal(findPart(idx.body, '3')!.subtype, 'rfc822');
  assert.equal(findPart(idx.body, '1.1'), findPart(idx.body, '1'), 'N.1 of a leaf is the leaf (as Dovecot)');
  for (const bad of ['5', '0', '1.2', '4.3', '4.2.3', '', 'x', '1..2']) assert.equal(findPart(idx.body, bad), null, bad);
});

test('HEADER, TEXT, MIME ranges', () => {
  assert.equal(at(''), RAW.toString());
  assert.ok(at('HEADER')!.startsWith('Subject: top\r\n') && at('HEADER')!.endsWith('boundary=a\r\n\r\n'));
  assert.ok(at('TEXT')!.startsWith('--a\r\n') && at('TEXT')!.endsWith('--a--\r\n'));
  assert.equal(at('2.MIME'), 'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n');
  assert.equal(at('1.MIME'), '\r\n');
  assert.equal(at('3.HEADER'), 'Subject: 3\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n');
  assert.ok(at('3.TEXT')!.startsWith('--b\r\n') && at('3.TEXT')!.endsWith('--b--'));
  assert.equal(at('4.2.HEADER'), 'Subject: 4.2\r\nContent-Type: multipart/mixed; boundary=d\r\n\r\n');
  assert.equal(at('4.2.header.fields'), at('4.2.HEADER'));
  assert.equal(at('3.1.MIME'), '\r\n');
  assert.equal(at('1.HEADER'), null, 'HEADER of a non-message part');
  assert.equal(at('MIME'), null);
  assert.equal(at('1.FOO'), null);
});

test('single-part message: part 1 is the body, 1.MIME the message header', () => {
  const raw = crlf('Subject: s', 'Content-Type: text/plain', '', 'just text');
  const i = indexMessage(raw);
  const r = sectionRange(i, '1')!;
  assert.equal(raw.subarray(r.start, r.end).toString(), 'just text');
  const m = sectionRange(i, '1.MIME')!;
  assert.equal(raw.subarray(m.start, m.end).toString(), 'Subject: s\r\nContent-Type: text/plain\r\n\r\n');
  assert.equal(sectionRange(i, '2'), null);
});

test('parseSection', () => {
  assert.deepEqual(parseSection(''), { path: [], text: null });
  assert.deepEqual(parseSection('header.fields.not'), { path: [], text: 'HEADER.FIELDS.NOT' });
  assert.deepEqual(parseSection('1.2.MIME'), { path: [1, 2], text: 'MIME' });
  assert.deepEqual(parseSection('10.3'), { path: [10, 3], text: null });
  for (const bad of ['MIME', '0', '1.0', '1.', '.1', '1MIME', '1.2.FOO', '01', '1.HEADER.']) assert.equal(parseSection(bad), null, bad);
});

test('HEADER.FIELDS and HEADER.FIELDS.NOT: case-insensitive, folded lines whole, blank line kept', () => {
  const r = sectionRange(idx, 'HEADER')!;
  const header = RAW.subarray(r.start, r.end);
  assert.equal(filterHeaderFields(header, ['x-a', 'X-FOLDED'], false).toString(), 'X-A: 1\r\nX-Folded: one\r\n  two\r\nx-a: 2\r\n\r\n');
  assert.equal(filterHeaderFields(header, ['X-A', 'x-folded', 'content-type'], true).toString(), 'Subject: top\r\n\r\n');
  assert.equal(filterHeaderFields(header, ['nope'], false).toString(), '\r\n');
  assert.equal(filterHeaderFields(Buffer.from('A: 1\r\nB: 2'), ['b'], false).toString(), 'B: 2\r\n\r\n', 'header without line end');
  assert.equal(filterHeaderFields(Buffer.from('From x\r\nA: 1\nA : 2\r\n'), ['a'], false).toString(), 'A: 1\nA : 2\r\n\r\n');
});

test('decodeTransfer for BINARY[], unknown encodings give unknownCte', async () => {
  const r = sectionRange(idx, '2')!;
  const part = findPart(idx.body, '2')!;
  assert.deepEqual(decodeTransfer(RAW.subarray(r.start, r.end), part.encoding), { ok: true, data: Buffer.from('part 2 bytes') });
  assert.deepEqual(decodeTransfer(Buffer.from('x'), 'x-uuencode'), { ok: false, code: 'unknownCte' });
  const out: Buffer[] = [];
  for await (const c of Readable.from([RAW.subarray(r.start, r.end)]).pipe(decodeTransferStream('base64')!)) out.push(c as Buffer);
  assert.equal(Buffer.concat(out).toString(), 'part 2 bytes');
  assert.equal(decodeTransferStream('x-uuencode'), null);
});
