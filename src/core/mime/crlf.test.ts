import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { CrlfNormalizer, CrlfState, toCrlf } from './crlf.js';

const b = (s: string) => Buffer.from(s, 'latin1');

/** Reference: one regex over the whole input. */
const reference = (s: string) => s.replace(/\r\n|\r|\n/g, '\r\n');

test('toCrlf: bare LF, bare CR, CRLF, mixed, and clean input returned as is', () => {
  assert.equal(toCrlf(b('a\nb\rc\r\nd')).toString('latin1'), 'a\r\nb\r\nc\r\nd');
  assert.equal(toCrlf(b('\n\n')).toString('latin1'), '\r\n\r\n');
  assert.equal(toCrlf(b('\r\r\n')).toString('latin1'), '\r\n\r\n');
  assert.equal(toCrlf(b('\n\r')).toString('latin1'), '\r\n\r\n');
  assert.equal(toCrlf(b('end\r')).toString('latin1'), 'end\r\n');
  const clean = b('a\r\nb\r\n');
  assert.equal(toCrlf(clean), clean, 'no copy for clean input');
  assert.equal(toCrlf(Buffer.alloc(0)).length, 0);
});

test('CrlfState: a CR at the end of one chunk and an LF at the start of the next stay one line end', () => {
  const st = new CrlfState();
  const out = Buffer.concat([st.push(b('a\r')), st.push(b('\nb\r')), st.push(b('c\n')), st.push(b('\r')), st.push(b('\r\n'))]);
  assert.equal(out.toString('latin1'), 'a\r\nb\r\nc\r\n\r\n\r\n');
});

test('property: any split of any input gives the reference result', () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom('\r', '\n', 'a', '\r\n', 'xyz', '\u00ff'), { maxLength: 60 }).map((p) => p.join('')),
      fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 10 }),
      (s, sizes) => {
        const input = b(s);
        const st = new CrlfState();
        const parts: Buffer[] = [];
        for (let i = 0, k = 0; i < input.length; k++) {
          const n = sizes[k % sizes.length]!;
          parts.push(st.push(input.subarray(i, i + n)));
          i += n;
        }
        assert.equal(Buffer.concat(parts).toString('latin1'), reference(s));
        assert.equal(toCrlf(input).toString('latin1'), reference(s));
      },
    ),
    { numRuns: 500 },
  );
});

test('CrlfNormalizer stream', async () => {
  const out: Buffer[] = [];
  const src = Readable.from([b('Subject: x\n'), b('\r'), b('\nbody\r'), b('more\n')]);
  for await (const chunk of src.pipe(new CrlfNormalizer())) out.push(chunk as Buffer);
  assert.equal(Buffer.concat(out).toString('latin1'), 'Subject: x\r\n\r\nbody\r\nmore\r\n');
});
