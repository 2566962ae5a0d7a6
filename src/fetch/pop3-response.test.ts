import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DotDecoder,
  apopTimestamp,
  listingLines,
  parseListLine,
  parseStatusLine,
  parseUidlLine,
  takeLine,
} from './pop3-response.js';

/** Feeds input in chunks of `size` bytes; returns the decoded data and what followed the terminator. */
function decodeInChunks(input: Buffer, size: number): { data: Buffer; rest: Buffer; done: boolean } {
  const dec = new DotDecoder();
  const out: Buffer[] = [];
  const rest: Buffer[] = [];
  for (let i = 0; i < input.length; i += size) {
    const r = dec.push(input.subarray(i, i + size));
    for (const d of r.data) out.push(Buffer.from(d));
    if (r.done) rest.push(Buffer.from(r.rest));
  }
  return { data: Buffer.concat(out), rest: Buffer.concat(rest), done: dec.done };
}

/** What a server sends for a message body: dot-stuffed, CRLF, terminated. */
function stuff(body: string): Buffer {
  const lines = body.split('\r\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return Buffer.from(lines.map((l) => (l.startsWith('.') ? '.' + l : l) + '\r\n').join('') + '.\r\n');
}

describe('status lines', () => {
  it('parses +OK and -ERR with and without response codes', () => {
    assert.deepEqual(parseStatusLine('+OK ready <1.2@host>'), { ok: true, text: 'ready <1.2@host>', code: null });
    assert.deepEqual(parseStatusLine('+OK'), { ok: true, text: '', code: null });
    assert.deepEqual(parseStatusLine('-ERR [AUTH] Authentication failed.'), { ok: false, text: 'Authentication failed.', code: 'AUTH' });
    assert.deepEqual(parseStatusLine('-ERR [SYS/TEMP] try later'), { ok: false, text: 'try later', code: 'SYS/TEMP' });
    assert.deepEqual(parseStatusLine('-err [in-use] locked'), { ok: false, text: 'locked', code: 'IN-USE' });
    assert.equal(parseStatusLine('* OK IMAP4rev1'), null);
    assert.equal(parseStatusLine('+OKAY'), null);
    assert.equal(parseStatusLine(''), null);
  });

  it('takes lines ended by CRLF or bare LF, and bounds their length', () => {
    const r = takeLine(Buffer.from('+OK hi\r\nrest'));
    assert.equal(r.kind, 'line');
    if (r.kind === 'line') {
      assert.equal(r.line, '+OK hi');
      assert.equal(r.rest.toString(), 'rest');
    }
    const lf = takeLine(Buffer.from('+OK lf\nx'));
    assert.equal(lf.kind === 'line' && lf.line, '+OK lf');
    assert.equal(takeLine(Buffer.from('+OK partial')).kind, 'needMore');
    assert.equal(takeLine(Buffer.alloc(9000, 0x41)).kind, 'tooLong');
    assert.equal(takeLine(Buffer.concat([Buffer.alloc(9000, 0x41), Buffer.from('\r\n')])).kind, 'tooLong');
  });

  it('finds the APOP timestamp in a greeting', () => {
    assert.equal(apopTimestamp('POP3 server ready <1896.697170952@dbc.mtview.ca.us>'), '<1896.697170952@dbc.mtview.ca.us>');
    assert.equal(apopTimestamp('Dovecot ready.'), null);
    assert.equal(apopTimestamp('ready <>'), null);
    assert.equal(apopTimestamp('ready <a b@c>'), null);
  });
});

describe('listings', () => {
  it('parses UIDL and LIST lines, refusing junk', () => {
    assert.deepEqual(parseUidlLine('1 whqtswO00WBw418f9t5JxYwZ'), { n: 1, uid: 'whqtswO00WBw418f9t5JxYwZ' });
    assert.deepEqual(parseUidlLine('12 00000001530b5f4e'), { n: 12, uid: '00000001530b5f4e' });
    assert.equal(parseUidlLine('x abc'), null);
    assert.equal(parseUidlLine('1 ' + 'a'.repeat(71)), null);
    assert.equal(parseUidlLine('1'), null);
    assert.deepEqual(parseListLine('3 1205'), { n: 3, size: 1205 });
    assert.deepEqual(parseListLine('3 1205 extra'), { n: 3, size: 1205 });
    assert.equal(parseListLine('3'), null);
    assert.deepEqual(listingLines(Buffer.from('1 a\r\n2 b\r\n')), ['1 a', '2 b']);
    assert.deepEqual(listingLines(Buffer.alloc(0)), []);
  });
});

describe('DotDecoder', () => {
  const samples: Array<[string, string]> = [
    ['simple', 'Subject: hi\r\n\r\nbody\r\n'],
    ['dots', 'Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\n...three\r\nmid . dot\r\n.\r\n'],
    ['empty body', 'Subject: x\r\n\r\n'],
    ['no trailing CRLF on last line kept by server', 'a\r\nb\r\n'],
    ['dot then CR without LF', 'x\r\n.\ry\r\n'],
    ['long line', 'x'.repeat(5000) + '\r\n.' + 'y'.repeat(3000) + '\r\n'],
  ];

  for (const [name, body] of samples) {
    it(`undoes stuffing across every chunk size: ${name}`, () => {
      const wire = Buffer.concat([stuff(body), Buffer.from('+OK next\r\n')]);
      for (let size = 1; size <= 512; size++) {
        const r = decodeInChunks(wire, size);
        assert.equal(r.done, true, `size ${size}`);
        assert.equal(r.data.toString('latin1'), body.endsWith('\r\n') || body === '' ? body : body + '\r\n', `size ${size}`);
        assert.equal(r.rest.toString(), '+OK next\r\n', `size ${size}`);
      }
    });
  }

  it('ends at a bare-LF terminator too', () => {
    const r = decodeInChunks(Buffer.from('a\n..b\n.\nNEXT'), 1);
    assert.equal(r.data.toString(), 'a\n.b\n');
    assert.equal(r.rest.toString(), 'NEXT');
  });

  it('an empty response is just the terminator', () => {
    const r = decodeInChunks(Buffer.from('.\r\n'), 1);
    assert.equal(r.done, true);
    assert.equal(r.data.length, 0);
  });

  it('is not done on a truncated stream (the caller reports the cut)', () => {
    const r = decodeInChunks(Buffer.from('Subject: x\r\n\r\nhalf a mess'), 3);
    assert.equal(r.done, false);
    assert.equal(r.data.toString(), 'Subject: x\r\n\r\nhalf a mess');
    const r2 = decodeInChunks(Buffer.from('a\r\n.\r'), 1);
    assert.equal(r2.done, false);
  });

  it('round-trips arbitrary bodies in arbitrary chunkings (property)', () => {
    const line = fc.string({ unit: fc.constantFrom('a', '.', ' ', 'é', '\r', 'x'), maxLength: 20 }).map((s) => s.replace(/\r/g, ''));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), fc.integer({ min: 1, max: 64 }), (lines, size) => {
        const body = lines.map((l) => l + '\r\n').join('');
        const r = decodeInChunks(stuff(body), size);
        assert.equal(r.done, true);
        assert.equal(r.data.toString('utf8'), body);
      }),
      { numRuns: 300 },
    );
  });
});
