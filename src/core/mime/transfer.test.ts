import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { createDecodeStream, createDecoder, decodeTransferEncoding, isKnownEncoding } from './transfer.js';

const qp = (s: string) => decodeTransferEncoding(Buffer.from(s, 'latin1'), 'quoted-printable')!.toString('latin1');

test('quoted-printable: escapes, soft breaks, trailing blanks, broken escapes', () => {
  assert.equal(qp('Gr=C3=BC=C3=9Fe'), 'Gr\u00c3\u00bc\u00c3\u009fe');
  assert.equal(qp('a=3db=3D'), 'a=b=');
  assert.equal(qp('soft=\r\nbreak\r\n'), 'softbreak\r\n');
  assert.equal(qp('soft= \t\r\nbreak'), 'softbreak');
  assert.equal(qp('trailing   \r\nx'), 'trailing\r\nx');
  assert.equal(qp('bad =ZZ and =4'), 'bad =ZZ and =4');
  assert.equal(qp('lf only=\nx\n'), 'lf onlyx\n');
  assert.equal(qp('end='), 'end');
});

test('base64: whitespace and junk skipped, missing padding tolerated', () => {
  const data = Buffer.from('hello, world! \u00ff\u0000', 'latin1');
  const enc = data.toString('base64');
  assert.deepEqual(decodeTransferEncoding(Buffer.from(enc.replace(/(.{4})/g, '$1\r\n ')), 'base64'), data);
  assert.deepEqual(decodeTransferEncoding(Buffer.from('aGk'), 'base64'), Buffer.from('hi'));
  assert.deepEqual(decodeTransferEncoding(Buffer.from('!!aG@@k=\r\n'), 'BASE64'), Buffer.from('hi'));
  assert.deepEqual(decodeTransferEncoding(Buffer.from('a'), 'base64'), Buffer.alloc(0));
});

test('identity and unknown encodings', () => {
  const raw = Buffer.from('x\u00ff', 'latin1');
  for (const e of ['7bit', '8bit', 'binary', '8BIT']) assert.deepEqual(decodeTransferEncoding(raw, e), raw);
  assert.equal(decodeTransferEncoding(raw, 'x-uuencode'), null);
  assert.equal(createDecodeStream('x-gzip'), null);
  assert.equal(isKnownEncoding('Quoted-Printable'), true);
  assert.equal(isKnownEncoding('x-uuencode'), false);
});

test('property: incremental decoding in any chunking equals whole-buffer decoding', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 400 }),
      fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 8 }),
      fc.constantFrom('base64', 'quoted-printable'),
      (bytes, sizes, enc) => {
        const data = Buffer.from(bytes);
        const encoded =
          enc === 'base64'
            ? Buffer.from(data.toString('base64').replace(/(.{76})/g, '$1\r\n'))
            : Buffer.from(
                Array.from(data, (c) => (c === 0x3d || c > 0x7e || c <= 0x20 ? '=' + c.toString(16).toUpperCase().padStart(2, '0') : String.fromCharCode(c)))
                  .join('')
                  .replace(/(.{70})/g, '$1=\r\n'),
                'latin1',
              );
        const whole = decodeTransferEncoding(encoded, enc)!;
        assert.deepEqual(whole, data, 'round trip');
        const d = createDecoder(enc)!;
        const parts: Buffer[] = [];
        for (let i = 0, k = 0; i < encoded.length; k++) {
          const n = sizes[k % sizes.length]!;
          parts.push(d.push(encoded.subarray(i, i + n)));
          i += n;
        }
        parts.push(d.end());
        assert.deepEqual(Buffer.concat(parts), data);
      },
    ),
    { numRuns: 300 },
  );
});

test('decode stream', async () => {
  const out: Buffer[] = [];
  for await (const c of Readable.from([Buffer.from('aGVs'), Buffer.from('bG8'), Buffer.from('=\r\n')]).pipe(createDecodeStream('base64')!)) out.push(c as Buffer);
  assert.equal(Buffer.concat(out).toString(), 'hello');
});
