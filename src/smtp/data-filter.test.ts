import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HeaderCollector, LineEndingFilter } from './data-filter.js';

function run(input: Buffer, sizes: number[]): { out: Buffer; filter: LineEndingFilter; header: HeaderCollector } {
  const filter = new LineEndingFilter();
  const header = new HeaderCollector(64);
  const parts: Buffer[] = [];
  let i = 0;
  let k = 0;
  while (i < input.length) {
    const n = sizes[k++ % sizes.length]!;
    const o = filter.push(input.subarray(i, i + n));
    header.push(o);
    parts.push(o);
    i += n;
  }
  const tail = filter.end();
  header.push(tail);
  parts.push(tail);
  return { out: Buffer.concat(parts), filter, header };
}

/** The specification: every bare CR and bare LF becomes CRLF. */
function reference(input: Buffer): Buffer {
  return Buffer.from(input.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
}

const samples = [
  'Subject: x\r\n\r\nbody\r\n',
  'Subject: x\n\nbody\n',
  'a\rb\r\nc\nd\r\r\n\n\r',
  '\r\n\r\nno header',
  '\n',
  '\r',
  'x\0y\r\n',
  'Subject: a\r\n folded\r\nX: y\r\n\r\n.\r\n..\r\n',
  '',
];

test('normalises bare CR and bare LF to CRLF, whatever the chunking (1..512 bytes)', () => {
  for (const s of samples) {
    const input = Buffer.from(s, 'latin1');
    for (let size = 1; size <= 512; size = size < 16 ? size + 1 : size * 2) {
      const { out } = run(input, [size]);
      assert.deepEqual(out.toString('latin1'), reference(input).toString('latin1'), `${JSON.stringify(s)} in chunks of ${size}`);
    }
  }
});

test('counts bare line ends and NULs', () => {
  const { filter } = run(Buffer.from('a\nb\rc\r\nd\0\0', 'latin1'), [1]);
  assert.equal(filter.stats.bareLf, 1);
  assert.equal(filter.stats.bareCr, 1);
  assert.equal(filter.stats.nul, 2);
  const { filter: clean } = run(Buffer.from('a\r\nb\r\n'), [3]);
  assert.deepEqual([clean.stats.bareLf, clean.stats.bareCr, clean.stats.nul], [0, 0, 0]);
});

test('a CR split from its LF across chunks is not bare', () => {
  const f = new LineEndingFilter();
  const a = f.push(Buffer.from('abc\r'));
  const b = f.push(Buffer.from('\ndef'));
  assert.equal(Buffer.concat([a, b, f.end()]).toString(), 'abc\r\ndef');
  assert.equal(f.stats.bareCr, 0);
});

test('property: arbitrary bytes and chunkings give the reference output', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a.map((b) => [13, 10, 46, 0, 65][b % 5]!))),
      fc.array(fc.integer({ min: 1, max: 512 }), { minLength: 1, maxLength: 8 }),
      (input, sizes) => {
        const { out } = run(input, sizes);
        assert.deepEqual(out, reference(input));
      },
    ),
    { numRuns: 300 },
  );
});

test('header collector finds the header block across chunk boundaries', () => {
  for (let size = 1; size <= 40; size++) {
    const { header } = run(Buffer.from('A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore'), [size]);
    assert.equal(header.complete, true);
    assert.equal(header.header().toString(), 'A: 1\r\nB: 2\r\n', `chunks of ${size}`);
  }
  const none = run(Buffer.from('\r\nbody'), [1]).header;
  assert.equal(none.complete, true);
  assert.equal(none.header().length, 0);
  const onlyHeader = run(Buffer.from('A: 1\r\nB: 2\r\n'), [2]).header;
  assert.equal(onlyHeader.complete, false);
  assert.equal(onlyHeader.header().toString(), 'A: 1\r\nB: 2\r\n');
  const long = run(Buffer.from(`X: ${'a'.repeat(100)}\r\n\r\nbody`), [7]).header;
  assert.equal(long.truncated, true);
  assert.equal(long.header().length, 64);
});
