/**
 * Cross-checks against independent implementations: messages built by
 * nodemailer's MailComposer are indexed, and every attachment decoded from our
 * byte ranges must equal what was attached; mailparser's reading of the same
 * bytes must agree with ours on subject, addresses and text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { simpleParser } from 'mailparser';
import { indexMessage } from './index.js';
import { decodeTransfer, sectionRange } from './sections.js';
import type { BodyPart } from './types.js';

function compose(mail: ConstructorParameters<typeof MailComposer>[0]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    new MailComposer(mail).compile().build((err, msg) => (err ? reject(err) : resolve(msg)));
  });
}

/** Leaves in section order with their part numbers. */
function leaves(p: BodyPart, prefix = ''): Array<[string, BodyPart]> {
  if (p.parts === undefined) return [[prefix === '' ? '1' : prefix, p]];
  return p.parts.flatMap((c, i) => leaves(c, prefix === '' ? String(i + 1) : `${prefix}.${i + 1}`));
}

const PNG = randomBytes(3000);
const PDF = randomBytes(70_000);
const CSV = Buffer.from('name;city\nJörg;Köln\n', 'utf8');

test('nodemailer-built messages: attachments decode from our byte ranges to the attached bytes', async () => {
  const raw = await compose({
    from: '"Jörg Müller" <joerg@example.de>',
    to: ['Ann <ann@example.org>', 'bob@example.net'],
    cc: 'Team: c@x.org, d@x.org;',
    subject: 'Grüße, 日本語 and a long subject that certainly needs folding over more than one line of header ✓',
    text: 'Plain text: Grüße aus Köln.\nSecond line with a very long line '.repeat(3) + 'x'.repeat(200),
    html: '<p>HTML: <b>Grüße</b> <img src="cid:logo@x"></p>',
    attachments: [
      { filename: 'logo.png', content: PNG, cid: 'logo@x' },
      { filename: 'Bericht für März – endgültig.pdf', content: PDF },
      { filename: 'data.csv', content: CSV, contentType: 'text/csv; charset=utf-8' },
      { filename: 'note.txt', content: 'a=b\r\n' + '=3D'.repeat(40), encoding: 'utf8', contentTransferEncoding: 'quoted-printable' },
    ],
  });
  const idx = indexMessage(raw);
  const byName = new Map<string, Buffer>();
  for (const [section, part] of leaves(idx.body)) {
    const name = part.disposition?.params.find(([k]) => k === 'filename')?.[1] ?? part.params.find(([k]) => k === 'name')?.[1];
    if (name === undefined) continue;
    const r = sectionRange(idx, section)!;
    const d = decodeTransfer(raw.subarray(r.start, r.end), part.encoding);
    assert.ok(d.ok, `decode ${section} ${part.encoding}`);
    byName.set(name, d.data);
  }
  assert.deepEqual([...byName.keys()].sort(), ['Bericht für März – endgültig.pdf', 'data.csv', 'logo.png', 'note.txt']);
  assert.deepEqual(byName.get('logo.png'), PNG);
  assert.deepEqual(byName.get('Bericht für März – endgültig.pdf'), PDF, 'RFC 2231 / encoded filename decoded');
  assert.deepEqual(byName.get('data.csv')?.toString('utf8').replace(/\r\n/g, '\n'), CSV.toString('utf8'));
  assert.equal(byName.get('note.txt')?.toString(), 'a=b\r\n' + '=3D'.repeat(40));

  const parsed = await simpleParser(raw);
  assert.equal(idx.subject, parsed.subject);
  assert.equal(idx.messageId, parsed.messageId);
  assert.equal(idx.sentDate, parsed.date?.getTime());
  assert.equal(idx.from, 'Jörg Müller <joerg@example.de>');
  assert.equal(idx.to, 'Ann <ann@example.org>, bob@example.net');
  assert.ok(idx.text.replace(/\r\n/g, '\n').includes((parsed.text ?? '').trim()), 'text agrees with mailparser');
  assert.ok(idx.text.includes('HTML: Grüße'), 'html');
  assert.equal(idx.hasAttachments, true);
  assert.equal(idx.preview.startsWith('Plain text: Grüße aus Köln. Second line'), true);
  assert.equal(parsed.attachments.length, 4, 'mailparser sees the same four attachments');
});

test('mailparser agrees with our text decoding for charsets and transfer encodings', async () => {
  // The body bytes in each charset, written out (MailComposer always writes UTF-8).
  const cases: Array<{ charset: string; cte: 'quoted-printable' | 'base64' | '8bit'; text: string; hex: string }> = [
    { charset: 'utf-8', cte: 'quoted-printable', text: 'Grüße — “quotes” 😀', hex: Buffer.from('Grüße — “quotes” 😀').toString('hex') },
    { charset: 'iso-8859-1', cte: 'quoted-printable', text: 'Café crème à la carte', hex: '436166e9206372e86d6520e0206c61206361727465' },
    { charset: 'windows-1252', cte: 'base64', text: '€ – ‘single’', hex: '802096209173696e676c6592' },
    { charset: 'iso-2022-jp', cte: '8bit', text: 'テスト', hex: '1b24422546253925481b2842' },
    { charset: 'koi8-r', cte: 'base64', text: 'Привет, мир', hex: 'f0d2c9d7c5d42c20cdc9d2' },
  ];
  for (const c of cases) {
    const raw = await compose({ from: 'a@b.c', to: 'd@e.f', subject: c.text, text: c.text });
    const bodyBytes = Buffer.from(c.hex, 'hex');
    const encoded = c.cte === 'base64' ? bodyBytes.toString('base64') : c.cte === 'quoted-printable' ? qp(bodyBytes) : bodyBytes.toString('latin1');
    const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('latin1').replace(/Content-Type: text\/plain; charset=utf-8/i, `Content-Type: text/plain; charset=${c.charset}`).replace(/Content-Transfer-Encoding: [^\r]+/i, `Content-Transfer-Encoding: ${c.cte}`);
    const msg = Buffer.concat([Buffer.from(head + '\r\n\r\n', 'latin1'), Buffer.from(encoded, 'latin1')]);
    const idx = indexMessage(msg);
    const parsed = await simpleParser(msg);
    assert.equal(idx.text.trim(), c.text, c.charset);
    assert.equal((parsed.text ?? '').trim(), c.text, `mailparser ${c.charset}`);
    assert.equal(idx.subject, c.text);
  }
});

function qp(bytes: Buffer): string {
  return Array.from(bytes, (b) => (b >= 0x21 && b <= 0x7e && b !== 0x3d ? String.fromCharCode(b) : '=' + b.toString(16).toUpperCase().padStart(2, '0'))).join('');
}
