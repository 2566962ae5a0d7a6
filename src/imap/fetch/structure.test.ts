import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BodyPart, ImapEnvelope } from '../../core/mime/types.js';
import { renderBodyStructure, renderEnvelope } from './structure.js';
import { str, toBuffer } from '../responses/encode.js';

const ascii = { utf8: false };

function part(p: Partial<BodyPart>): BodyPart {
  return {
    type: 'text', subtype: 'plain', params: [['charset', 'us-ascii']], id: null, description: null, encoding: '7bit',
    size: 10, lines: 1, md5: null, disposition: null, language: null, location: null, headerStart: 0, bodyStart: 0, bodyEnd: 10,
    ...p,
  };
}

const env: ImapEnvelope = {
  date: 'Wed, 17 Jul 1996 02:23:25 -0700 (PDT)',
  subject: 'IMAP4rev1 WG mtg summary and minutes',
  from: [{ name: 'Terry Gray', adl: null, mailbox: 'gray', host: 'cac.washington.edu' }],
  sender: [{ name: 'Terry Gray', adl: null, mailbox: 'gray', host: 'cac.washington.edu' }],
  replyTo: [{ name: 'Terry Gray', adl: null, mailbox: 'gray', host: 'cac.washington.edu' }],
  to: [{ name: null, adl: null, mailbox: 'imap', host: 'cac.washington.edu' }],
  cc: [
    { name: null, adl: null, mailbox: 'minutes', host: 'CNRI.Reston.VA.US' },
    { name: 'John Klensin', adl: null, mailbox: 'KLENSIN', host: 'MIT.EDU' },
  ],
  bcc: null,
  inReplyTo: null,
  messageId: '<B27397-0100000@cac.washington.edu>',
};

describe('ENVELOPE', () => {
  it('renders the RFC 3501 example', () => {
    const got = toBuffer(renderEnvelope(env, ascii).done()).toString();
    assert.equal(
      got,
      '("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL "<B27397-0100000@cac.washington.edu>")',
    );
  });

  it('sends 8-bit header text as a literal unless UTF-8 is on', () => {
    const e = { ...env, subject: 'Grüße' };
    const plain = toBuffer(renderEnvelope(e, ascii).done()).toString();
    assert.match(plain, /\{7\}\r\nGrüße/);
    const utf8 = toBuffer(renderEnvelope(e, { utf8: true }).done()).toString();
    assert.match(utf8, / "Grüße" /);
  });
});

describe('BODYSTRUCTURE', () => {
  it('renders a single text part, with and without extension data', () => {
    const p = part({ size: 3028, lines: 92 });
    assert.equal(toBuffer(renderBodyStructure(p, false, ascii).done()).toString(), '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3028 92)');
    assert.equal(toBuffer(renderBodyStructure(p, true, ascii).done()).toString(), '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3028 92 NIL NIL NIL NIL)');
  });

  it('renders multipart with attachments and message/rfc822', () => {
    const inner = part({ size: 5, lines: 1 });
    const mp = part({
      type: 'multipart', subtype: 'mixed', params: [['boundary', 'xyz']], size: 500, lines: null,
      parts: [
        part({ size: 100, lines: 4 }),
        part({ type: 'application', subtype: 'pdf', params: [['name', 'résumé.pdf']], encoding: 'base64', size: 200, lines: null,
          disposition: { type: 'attachment', params: [['filename', 'résumé.pdf']] }, language: ['en', 'fr'] }),
        part({ type: 'message', subtype: 'rfc822', params: [], size: 80, lines: 6, envelope: env, message: inner }),
      ],
    });
    const s = toBuffer(renderBodyStructure(mp, true, ascii).done()).toString();
    assert.ok(s.startsWith('(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 100 4 NIL NIL NIL NIL)("application" "pdf" ("name*" "utf-8\'\'r%C3%A9sum%C3%A9.pdf") NIL NIL "base64" 200 NIL ("attachment" ("filename*" "utf-8\'\'r%C3%A9sum%C3%A9.pdf")) ("en" "fr") NIL)("message" "rfc822" NIL NIL NIL "7bit" 80 ("Wed'), s);
    assert.ok(s.endsWith(' ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 1 NIL NIL NIL NIL) 6 NIL NIL NIL NIL) "mixed" ("boundary" "xyz") NIL NIL NIL)'), s);
    const body = toBuffer(renderBodyStructure(mp, false, ascii).done()).toString();
    assert.ok(body.endsWith(' 6) "mixed")'), body);
  });

  it('never emits an empty multipart', () => {
    const s = toBuffer(renderBodyStructure(part({ type: 'multipart', subtype: 'mixed', params: [], parts: [] }), false, ascii).done()).toString();
    assert.equal(s, '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")');
  });
});

describe('strings', () => {
  it('quotes or makes literals', () => {
    assert.equal(str('a"b\\c', ascii), '"a\\"b\\\\c"');
    assert.deepEqual(str('a\r\nb', ascii), Buffer.from('{4}\r\na\r\nb'));
    assert.deepEqual(str('ü', ascii), Buffer.from('{2}\r\nü'));
    assert.equal(str('ü', { utf8: true }), '"ü"');
  });
});
