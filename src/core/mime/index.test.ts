import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Indexer, indexMessage } from './index.js';
import type { BodyPart, MessageIndex } from './types.js';

const crlf = (...lines: string[]) => Buffer.from(lines.join('\r\n'), 'utf8');
const body = (raw: Buffer, p: BodyPart) => raw.subarray(p.bodyStart, p.bodyEnd).toString('latin1');
const mime = (raw: Buffer, p: BodyPart) => raw.subarray(p.headerStart, p.bodyStart).toString('latin1');
const lfs = (raw: Buffer, p: BodyPart) => raw.subarray(p.bodyStart, p.bodyEnd).toString('latin1').split('\n').length - 1;

/** Every part: offsets ordered and inside the parent, size = bodyEnd - bodyStart, lines = LFs of the body. */
function checkInvariants(raw: Buffer, idx: MessageIndex): void {
  const walk = (p: BodyPart, lo: number, hi: number) => {
    assert.ok(lo <= p.headerStart && p.headerStart <= p.bodyStart && p.bodyStart <= p.bodyEnd && p.bodyEnd <= hi, `offsets of ${p.type}/${p.subtype}`);
    assert.equal(p.size, p.bodyEnd - p.bodyStart);
    if (p.lines !== null) assert.equal(p.lines, lfs(raw, p));
    if (p.type === 'text') assert.notEqual(p.lines, null);
    for (const c of p.parts ?? []) walk(c, p.bodyStart, p.bodyEnd);
    if (p.message !== undefined) {
      assert.ok(p.envelope !== undefined);
      assert.equal(p.message.headerStart, p.bodyStart);
      assert.equal(p.message.bodyEnd, p.bodyEnd);
      walk(p.message, p.bodyStart, p.bodyEnd);
    }
  };
  assert.equal(idx.body.headerStart, 0);
  assert.equal(idx.body.bodyEnd, raw.length);
  walk(idx.body, 0, raw.length);
  assert.doesNotThrow(() => JSON.stringify(idx));
  assert.ok(!JSON.stringify(idx).includes('\\u0000'));
}

function index(raw: Buffer): MessageIndex {
  const idx = indexMessage(raw);
  checkInvariants(raw, idx);
  // The same bytes split in odd places give the same index.
  for (const size of [1, 3, 7, 64]) {
    const ix = new Indexer();
    for (let i = 0; i < raw.length; i += size) ix.write(raw.subarray(i, i + size));
    assert.deepEqual(ix.finish(), idx, `chunks of ${size}`);
  }
  return idx;
}

test('single part: hand-computed offsets, size and lines', () => {
  const raw = crlf('Subject: hi', '', 'line1', 'line2', '');
  const idx = index(raw);
  assert.equal(raw.length, 29);
  const b = idx.body;
  assert.deepEqual([b.type, b.subtype, b.params], ['text', 'plain', [['charset', 'us-ascii']]]);
  assert.deepEqual([b.headerStart, b.bodyStart, b.bodyEnd, b.size, b.lines], [0, 15, 29, 14, 2]);
  assert.equal(b.encoding, '7bit');
  assert.equal(idx.subject, 'hi');
  assert.equal(idx.text, 'line1\r\nline2\r\n');
  assert.equal(idx.preview, 'line1 line2');
  assert.equal(idx.hasAttachments, false);
});

test('multipart: hand-computed offsets; the CRLF before a boundary belongs to the boundary', () => {
  const raw = crlf('Content-Type: multipart/mixed; boundary=zz', '', '--zz', '', 'hello', '--zz--', '');
  const idx = index(raw);
  assert.equal(raw.length, 69);
  const root = idx.body;
  assert.deepEqual([root.bodyStart, root.bodyEnd, root.size, root.lines], [46, 69, 23, null]);
  assert.equal(root.parts!.length, 1);
  const p = root.parts![0]!;
  assert.deepEqual([p.headerStart, p.bodyStart, p.bodyEnd, p.size, p.lines], [52, 54, 59, 5, 0]);
  assert.deepEqual(p.params, [['charset', 'us-ascii']]);
  assert.equal(body(raw, p), 'hello');
});

const PDF = Buffer.from('%PDF-1.4\n' + 'x'.repeat(300) + '\n%%EOF\n\u0000\u0001\u00ff', 'latin1');
const PDF_B64 = PDF.toString('base64').replace(/(.{76})/g, '$1\r\n');

function nestedMessage(): Buffer {
  return crlf(
    'From: Alice <alice@example.org>',
    'To: bob@example.net',
    'Subject: nested',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed;',
    '\tboundary="outer=_1"',
    '',
    'This is a multi-part message in MIME format.',
    '',
    '--outer=_1',
    'Content-Type: multipart/alternative; boundary="inner=_2"',
    '',
    '--inner=_2',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Gr=C3=BC=C3=9Fe, Bob!=',
    ' Soft break.',
    '',
    '--inner=_2',
    'Content-Type: text/html; charset=iso-8859-1',
    '',
    '@@HTML@@',
    '--inner=_2--',
    '',
    '--outer=_1',
    'Content-Type: application/pdf; name="report.pdf"',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="report.pdf"',
    'Content-ID: <pdf@x>',
    'Content-Description: The report',
    'Content-Language: en, de',
    'Content-Location: http://x/report.pdf',
    'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
    '',
    PDF_B64,
    '--outer=_1--',
    'epilogue',
    '',
  );
}

/** The html part is declared iso-8859-1, so its bytes are latin1. */
function nestedMessageBytes(): Buffer {
  const [a, b] = nestedMessage().toString('utf8').split('@@HTML@@') as [string, string];
  const html = '<html><body><p>Gr\u00fc\u00dfe &amp; <b>hello</b></p><script>var x=1;</script></body></html>';
  return Buffer.concat([Buffer.from(a, 'utf8'), Buffer.from(html, 'latin1'), Buffer.from(b, 'utf8')]);
}

test('multipart/alternative inside multipart/mixed, base64 attachment decodes from its byte range', () => {
  const bytes = nestedMessageBytes();
  const idx = index(bytes);
  const root = idx.body;
  assert.deepEqual([root.type, root.subtype], ['multipart', 'mixed']);
  assert.deepEqual(root.params, [['boundary', 'outer=_1']]);
  assert.equal(root.parts!.length, 2);
  const [alt, pdf] = root.parts as [BodyPart, BodyPart];
  assert.deepEqual([alt.type, alt.subtype], ['multipart', 'alternative']);
  const [plain, html] = alt.parts as [BodyPart, BodyPart];
  assert.equal(body(bytes, plain), 'Gr=C3=BC=C3=9Fe, Bob!=\r\n Soft break.\r\n');
  assert.equal(plain.lines, 2);
  assert.equal(plain.encoding, 'quoted-printable');
  assert.equal(mime(bytes, plain), 'Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n');
  assert.deepEqual(html.params, [['charset', 'iso-8859-1']]);
  assert.equal(html.lines, 0);
  assert.ok(body(bytes, html).startsWith('<html>') && body(bytes, html).endsWith('</html>'));
  // the multipart/alternative body ends before the CRLF of the outer boundary, and includes its own epilogue line
  assert.ok(body(bytes, alt).endsWith('--inner=_2--\r\n'));

  assert.deepEqual([pdf.type, pdf.subtype, pdf.encoding], ['application', 'pdf', 'base64']);
  assert.deepEqual(pdf.params, [['name', 'report.pdf']]);
  assert.deepEqual(pdf.disposition, { type: 'attachment', params: [['filename', 'report.pdf']] });
  assert.equal(pdf.id, '<pdf@x>');
  assert.equal(pdf.description, 'The report');
  assert.deepEqual(pdf.language, ['en', 'de']);
  assert.equal(pdf.location, 'http://x/report.pdf');
  assert.equal(pdf.md5, 'Q2hlY2sgSW50ZWdyaXR5IQ==');
  assert.equal(pdf.lines, null);
  assert.deepEqual(Buffer.from(body(bytes, pdf), 'latin1').toString('latin1'), PDF_B64);
  assert.deepEqual(Buffer.from(body(bytes, pdf), 'base64'), PDF);

  assert.equal(idx.text.includes('Grüße, Bob! Soft break.'), true, idx.text);
  assert.equal(idx.text.includes('Grüße & hello'), true, idx.text);
  assert.equal(idx.text.includes('var x'), false);
  assert.equal(idx.preview, 'Grüße, Bob! Soft break.');
  assert.equal(idx.hasAttachments, true);
  assert.equal(idx.from, 'Alice <alice@example.org>');
  assert.equal(idx.sortFrom, 'alice');
  assert.equal(idx.sortTo, 'bob');
});

test('message/rfc822 attachment holding a multipart: envelope, inner parts, offsets', () => {
  const inner = crlf(
    'From: "Carol Q. Public" <carol@example.com>',
    'Subject: =?utf-8?B?SW5uZXIgw6TDtsO8?=',
    'Date: Tue, 2 Jan 2024 10:00:00 +0100',
    'Message-ID: <inner@example.com>',
    'Content-Type: multipart/mixed; boundary=in',
    '',
    '--in',
    '',
    'inner text',
    '--in',
    'Content-Type: image/png',
    'Content-Transfer-Encoding: base64',
    '',
    'iVBORw0KGgo=',
    '--in--',
  );
  const raw = Buffer.concat([
    crlf('Subject: Fwd: inner', 'Content-Type: multipart/mixed; boundary=out', '', '--out', '', 'see attached', '--out', 'Content-Type: message/rfc822', '', ''),
    inner,
    crlf('', '--out--', ''),
  ]);
  const idx = index(raw);
  const msgPart = idx.body.parts![1]!;
  assert.deepEqual([msgPart.type, msgPart.subtype], ['message', 'rfc822']);
  assert.equal(body(raw, msgPart), inner.toString('latin1'));
  assert.equal(msgPart.lines, inner.toString().split('\n').length - 1);
  assert.equal(msgPart.envelope!.subject, '=?utf-8?B?SW5uZXIgw6TDtsO8?=');
  assert.deepEqual(msgPart.envelope!.from, [{ name: 'Carol Q. Public', adl: null, mailbox: 'carol', host: 'example.com' }]);
  assert.deepEqual(msgPart.envelope!.sender, msgPart.envelope!.from);
  assert.equal(msgPart.envelope!.messageId, '<inner@example.com>');
  const m = msgPart.message!;
  assert.deepEqual([m.type, m.subtype], ['multipart', 'mixed']);
  assert.equal(m.headerStart, msgPart.bodyStart);
  assert.equal(body(raw, m.parts![0]!), 'inner text');
  assert.equal(body(raw, m.parts![1]!), 'iVBORw0KGgo=');
  assert.equal(m.parts![1]!.type, 'image');
  assert.ok(idx.text.includes('see attached') && idx.text.includes('inner text'));
  assert.equal(idx.preview, 'see attached');
  assert.equal(idx.hasAttachments, true);
  assert.equal(idx.baseSubject, 'inner');
});

test('encoded-words: UTF-8, ISO-8859-1, ISO-2022-JP, windows-1252, B and Q, adjacent words', () => {
  const cases: Array<[string, string]> = [
    ['=?UTF-8?B?8J+YgCBzbWlsZQ==?=', '😀 smile'],
    ['=?ISO-8859-1?Q?Caf=E9_cr=E8me?=', 'Café crème'],
    ['=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=', 'テスト'],
    ['=?windows-1252?Q?=93quoted=94_=80?=', '“quoted” €'],
    ['=?utf-8?q?a?= =?utf-8?q?b?=', 'ab'],
    ['=?utf-8?q?a?=\r\n =?utf-8?q?b?= c', 'ab c'],
    ['plain =?iso-8859-1?b?6Q==?= text', 'plain é text'],
    ['=?x-unknown?Q?abc?=', 'abc'],
  ];
  for (const [enc, want] of cases) {
    const raw = crlf(`Subject: ${enc}`, `From: ${enc} <a@b.c>`, '', '');
    const idx = index(raw);
    assert.equal(idx.subject, want, enc);
    assert.equal(idx.from, `${want} <a@b.c>`, enc);
    assert.equal(idx.envelope.subject, enc.replace(/\r\n/g, ''), 'envelope keeps the raw value');
    assert.deepEqual(idx.headers[0], ['subject', want]);
  }
});

test('RFC 2231 parameters: continuations, charsets, order kept', () => {
  const raw = crlf(
    'Content-Type: multipart/mixed; boundary=b',
    '',
    '--b',
    "Content-Type: application/octet-stream; name*0*=utf-8''%E2%82%AC%20rate;",
    ' name*1=".pdf"; x-extra=1',
    "Content-Disposition: attachment; filename*=iso-8859-1'de'M%FCller.pdf; size=4",
    '',
    'data',
    '--b--',
  );
  const p = index(raw).body.parts![0]!;
  assert.deepEqual(p.params, [
    ['name', '€ rate.pdf'],
    ['x-extra', '1'],
  ]);
  assert.deepEqual(p.disposition, {
    type: 'attachment',
    params: [
      ['filename', 'Müller.pdf'],
      ['size', '4'],
    ],
  });
});

test('missing final boundary: the part ends where the enclosing body ends', () => {
  const raw = crlf('Content-Type: multipart/mixed; boundary=b', '', '--b', '', 'one', '--b', '', 'two', 'last line', '');
  const idx = index(raw);
  assert.equal(idx.body.parts!.length, 2);
  const two = idx.body.parts![1]!;
  assert.equal(body(raw, two), 'two\r\nlast line\r\n');
  assert.equal(two.bodyEnd, raw.length);
  assert.equal(two.lines, 2);
});

test('missing inner final boundary: the outer boundary closes the inner multipart', () => {
  const raw = crlf(
    'Content-Type: multipart/mixed; boundary=outer',
    '',
    '--outer',
    'Content-Type: multipart/alternative; boundary=inner',
    '',
    '--inner',
    '',
    'a',
    '--outer',
    '',
    'b',
    '--outer--',
  );
  const idx = index(raw);
  const [alt, b] = idx.body.parts as [BodyPart, BodyPart];
  assert.equal(alt.parts!.length, 1);
  assert.equal(body(raw, alt.parts![0]!), 'a');
  assert.equal(body(raw, b), 'b');
});

test('boundary prefix rule: longest active boundary wins, also when one is a prefix of the other', () => {
  const raw = crlf(
    'Content-Type: multipart/mixed; boundary=ab',
    '',
    '--ab',
    'Content-Type: multipart/mixed; boundary=abcd',
    '',
    '--abcd',
    '',
    'x',
    '--abcd--',
    '--ab',
    '',
    'y',
    '--ab--',
  );
  const idx = index(raw);
  assert.equal(idx.body.parts!.length, 2);
  assert.equal(body(raw, idx.body.parts![0]!.parts![0]!), 'x');
  assert.equal(body(raw, idx.body.parts![1]!), 'y');
});

test('a boundary string inside a base64 body of another part does not split it', () => {
  const payload = Buffer.from('ABC'.repeat(40)); // base64 "QUJD" repeated
  const b64 = payload.toString('base64');
  const raw = crlf('Content-Type: multipart/mixed; boundary="QUJDQUJD"', '', '--QUJDQUJD', 'Content-Transfer-Encoding: base64', 'Content-Type: application/octet-stream', '', b64, '--QUJDQUJD--', '');
  const idx = index(raw);
  assert.equal(idx.body.parts!.length, 1);
  assert.deepEqual(Buffer.from(body(raw, idx.body.parts![0]!), 'base64'), payload);
});

test('8-bit headers: raw UTF-8 and raw latin1', () => {
  const utf = Buffer.from('Subject: Grüße aus Köln\r\nFrom: Jörg <j@x.de>\r\n\r\nx', 'utf8');
  const a = index(utf);
  assert.equal(a.subject, 'Grüße aus Köln');
  assert.equal(a.envelope.subject, 'Grüße aus Köln');
  assert.equal(a.from, 'Jörg <j@x.de>');
  const lat = Buffer.from('Subject: Gr\u00fc\u00dfe\r\n\r\nx', 'latin1');
  assert.equal(index(lat).subject, 'Grüße');
});

test('degenerate inputs: empty, header only, no blank line, no body, LF only, NUL bytes', () => {
  const empty = index(Buffer.alloc(0));
  assert.deepEqual([empty.body.type, empty.body.size, empty.body.lines, empty.body.bodyStart], ['text', 0, 0, 0]);
  assert.equal(empty.envelope.from, null);
  assert.equal(empty.subject, '');

  const headerOnly = crlf('Subject: only', 'From: a@b.c', '');
  const h = index(headerOnly);
  assert.deepEqual([h.body.bodyStart, h.body.bodyEnd, h.body.size], [headerOnly.length, headerOnly.length, 0]);
  assert.equal(h.subject, 'only');

  const headerNoEol = Buffer.from('Subject: only');
  assert.equal(index(headerNoEol).body.bodyStart, headerNoEol.length);
  assert.equal(index(headerNoEol).subject, 'only');

  const blankOnly = crlf('Subject: x', '', '');
  const bo = index(blankOnly);
  assert.deepEqual([bo.body.bodyStart, bo.body.size], [blankOnly.length, 0]);

  const noBlank = crlf('Subject: x', 'This is the body, no blank line before it.', 'more');
  const nb = index(noBlank);
  assert.equal(body(noBlank, nb.body), 'This is the body, no blank line before it.\r\nmore');
  assert.equal(nb.subject, 'x');
  assert.deepEqual(nb.headers, [['subject', 'x']]);

  const lf = Buffer.from('Subject: lf\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nhello\nworld\n--b--\n');
  const l = index(lf);
  const part = l.body.parts![0]!;
  assert.equal(body(lf, part), 'hello\nworld');
  assert.equal(part.lines, 1);

  const nul = Buffer.from('Subject: a\u0000b\r\n\r\nx\u0000y\r\n', 'latin1');
  const n = index(nul);
  assert.equal(n.subject, 'ab');
  assert.equal(n.text, 'xy\r\n');
  assert.equal(n.body.size, 5);
});

test('bad input: unknown charset, bad base64, invalid content-type, garbage parameters', () => {
  const raw = crlf(
    'Content-Type: multipart/mixed; boundary=b',
    '',
    '--b',
    'Content-Type: text/plain; charset=x-no-such-charset',
    '',
    'hello',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    '!!!notbase64@@@ aGk=',
    '--b',
    'Content-Type: garbage',
    '',
    'z',
    '--b',
    'Content-Type: text/plain; ;;; =x; charset="unterminated',
    'Content-Transfer-Encoding: x-uuencode',
    '',
    'w',
    '--b--',
  );
  const idx = index(raw);
  const [a, b, c, d] = idx.body.parts as BodyPart[];
  assert.deepEqual(a!.params, [['charset', 'x-no-such-charset']]);
  assert.equal(b!.encoding, 'base64');
  assert.deepEqual([c!.type, c!.subtype, c!.params], ['text', 'plain', [['charset', 'us-ascii']]]);
  assert.equal(d!.encoding, 'x-uuencode');
  assert.ok(idx.text.includes('hello'));
});

test('multipart/digest: parts without Content-Type are message/rfc822', () => {
  const raw = crlf('Content-Type: multipart/digest; boundary=d', '', '--d', '', 'Subject: one', '', 'first', '--d', 'Content-Type: text/plain', '', 'second', '--d--');
  const idx = index(raw);
  const [one, two] = idx.body.parts as [BodyPart, BodyPart];
  assert.deepEqual([one.type, one.subtype, one.params], ['message', 'rfc822', []]);
  assert.equal(one.envelope!.subject, 'one');
  assert.equal(body(raw, one.message!), 'first');
  assert.equal(one.lines, 2);
  assert.deepEqual([two.type, two.subtype], ['text', 'plain']);
  assert.deepEqual(two.params, [['charset', 'us-ascii']]);
});

test('a header cut short by a boundary loses its line end to the boundary', () => {
  const raw = crlf('Content-Type: multipart/mixed; boundary=b', '', '--b', 'Content-Type: text/plain', '--b', '', 'x', '--b--');
  const idx = index(raw);
  const p = idx.body.parts![0]!;
  assert.equal(mime(raw, p), 'Content-Type: text/plain');
  assert.equal(p.size, 0);
  assert.equal(body(raw, idx.body.parts![1]!), 'x');
});

test('a multipart without parts (or without boundary) reports one empty text/plain part', () => {
  for (const raw of [crlf('Content-Type: multipart/mixed; boundary=b', '', 'only a preamble', ''), crlf('Content-Type: multipart/mixed', '', '--b', '', 'x')]) {
    const idx = index(raw);
    assert.equal(idx.body.parts!.length, 1);
    assert.deepEqual([idx.body.parts![0]!.type, idx.body.parts![0]!.size], ['text', 0]);
  }
});

test('multipart without blank line after its header: the first boundary still opens part 1', () => {
  const raw = crlf('Content-Type: multipart/mixed; boundary=b', '--b', '', 'x', '--b--');
  const idx = index(raw);
  assert.equal(idx.body.parts!.length, 1);
  assert.equal(body(raw, idx.body.parts![0]!), 'x');
});

test('long lines: a text line longer than the line head and a long folded header', () => {
  const longText = 'word '.repeat(5000);
  const longHeader = 'X-Long: ' + Array.from({ length: 400 }, (_, i) => `v${i}`).join('\r\n ');
  const raw = crlf('Subject: long', longHeader, 'Content-Type: text/html', '', `<p>${longText}</p>`, 'end');
  const idx = index(raw);
  assert.equal(idx.text, `${longText.trim()}\n\nend`);
  const xl = idx.headers.find(([k]) => k === 'x-long')![1];
  assert.ok(xl.startsWith('v0 v1 v2') && xl.endsWith('v399'));
});

test('summary: dates, message ids, references, sort keys, group addresses, sender defaults', () => {
  const raw = crlf(
    'Date: Mon, 1 Jan 2024 23:30:00 -0500 (EST)',
    'From: =?utf-8?q?Z=C3=BC?= <Zed@Example.org>',
    'Sender: ',
    'Reply-To: list@example.org',
    'To: undisclosed-recipients:;',
    'Cc: Team: Ann <ann@x.org>, "Bo B" <bo@x.org>;, carl@x.org (Carl C)',
    'Subject: Re: [ann] Fwd: [fwd: Meeting ] (fwd)',
    'Message-ID: < abc@x.org >',
    'In-Reply-To: <parent@x.org> (comment)',
    'References: <root@x.org>',
    ' <parent@x.org>',
    '',
    'body',
  );
  const idx = index(raw);
  assert.equal(idx.sentDay, '2024-01-01');
  assert.equal(idx.sentDate, Date.UTC(2024, 0, 2, 4, 30));
  assert.equal(idx.messageId, '<abc@x.org>');
  assert.equal(idx.inReplyTo, '<parent@x.org>');
  assert.deepEqual(idx.references, ['<root@x.org>', '<parent@x.org>']);
  assert.equal(idx.baseSubject, 'Meeting');
  assert.equal(idx.sortFrom, 'zed');
  assert.equal(idx.sortTo, '');
  assert.equal(idx.sortCc, 'ann');
  assert.equal(idx.from, 'Zü <Zed@Example.org>');
  assert.equal(idx.cc, 'Ann <ann@x.org>, Bo B <bo@x.org>, Carl C <carl@x.org>');
  const env = idx.envelope;
  assert.equal(env.date, 'Mon, 1 Jan 2024 23:30:00 -0500 (EST)');
  assert.deepEqual(env.sender, env.from, 'empty Sender defaults to From');
  assert.deepEqual(env.replyTo, [{ name: null, adl: null, mailbox: 'list', host: 'example.org' }]);
  assert.deepEqual(env.to, [
    { name: null, adl: null, mailbox: 'undisclosed-recipients', host: null },
    { name: null, adl: null, mailbox: null, host: null },
  ]);
  assert.deepEqual(env.cc, [
    { name: null, adl: null, mailbox: 'Team', host: null },
    { name: 'Ann', adl: null, mailbox: 'ann', host: 'x.org' },
    { name: 'Bo B', adl: null, mailbox: 'bo', host: 'x.org' },
    { name: null, adl: null, mailbox: null, host: null },
    { name: 'Carl C', adl: null, mailbox: 'carl', host: 'x.org' },
  ]);
  assert.equal(env.bcc, null);
  assert.equal(env.inReplyTo, '<parent@x.org> (comment)');
  assert.equal(env.messageId, '< abc@x.org >');
});

test('limits: deep nesting and very many parts stay bounded and do not throw', () => {
  const depth = 150;
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`;
    close = `\r\n--b${i}--` + close;
  }
  const deep = Buffer.from(open + '\r\nleaf' + close);
  const d = indexMessage(deep);
  checkInvariants(deep, d);
  let n = 0;
  for (let p: BodyPart | undefined = d.body; p !== undefined; p = p.parts?.[0]) n++;
  assert.ok(n <= 101, `depth ${n}`);

  const many = Buffer.from('Content-Type: multipart/mixed; boundary=m\r\n\r\n' + '--m\r\n\r\nx\r\n'.repeat(12000) + '--m--\r\n');
  const m = indexMessage(many);
  checkInvariants(many, m);
  assert.ok(m.body.parts!.length < 10000);
  assert.ok(m.body.parts!.length > 9000);
});

test('search text is capped, and only text parts are kept', () => {
  const big = 'a'.repeat(3 * 1024 * 1024);
  const raw = crlf('Content-Type: multipart/mixed; boundary=b', '', '--b', '', big, '--b', 'Content-Type: application/octet-stream', '', 'binary', '--b--');
  const idx = indexMessage(raw);
  checkInvariants(raw, idx);
  assert.ok(idx.text.length <= 1024 * 1024);
  assert.ok(!idx.text.includes('binary'));
  assert.equal(idx.body.parts![0]!.size, big.length);
});

test('an oversized header is cut for parsing, never for offsets', () => {
  const junk = Array.from({ length: 6000 }, (_, i) => `X-Junk-${i}: ${'j'.repeat(50)}`);
  const raw = crlf('Subject: first', ...junk, 'Content-Type: text/html', '', '<b>body</b>');
  const idx = index(raw);
  assert.equal(idx.subject, 'first');
  assert.equal(body(raw, idx.body), '<b>body</b>');
  assert.equal(idx.body.subtype, 'plain', 'a field past the cap is not seen');
  assert.ok(idx.headers.length < junk.length);
});

test('message/global and an empty message/rfc822 part', () => {
  const raw = crlf(
    'Content-Type: multipart/mixed; boundary=g',
    '',
    '--g',
    'Content-Type: message/global',
    '',
    'Subject: Grüße',
    '',
    'utf-8 inside',
    '--g',
    'Content-Type: message/rfc822',
    '',
    '--g--',
  );
  const idx = index(raw);
  const [g, empty] = idx.body.parts as [BodyPart, BodyPart];
  assert.equal(g.subtype, 'global');
  assert.equal(g.envelope!.subject, 'Grüße');
  assert.equal(body(raw, g.message!), 'utf-8 inside');
  assert.equal(g.lines, 2);
  assert.deepEqual([empty.size, empty.lines, empty.message!.size, empty.envelope!.subject], [0, 0, 0, null]);
});
