import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HEAD_BYTES, LineSplitter, type LineSink } from './lines.js';

interface Line {
  start: number;
  lf: number;
  headLen: number;
  content: string;
  nl: number;
  end: number;
}

/** Collects what the splitter reports, checking the event order as it goes. */
function collect(input: Buffer, sizes: number[]): Line[] {
  const lines: Line[] = [];
  let cur: Line | null = null;
  const sink: LineSink = {
    lineStart(start, lf, buf, from, to) {
      assert.equal(cur, null, 'lineStart inside a line');
      cur = { start, lf, headLen: to - from, content: buf.toString('latin1', from, to), nl: -1, end: -1 };
    },
    lineMore(buf, from, to) {
      assert.ok(cur !== null && to > from);
      cur.content += buf.toString('latin1', from, to);
    },
    lineEnd(nl, end) {
      assert.ok(cur !== null);
      cur.nl = nl;
      cur.end = end;
      lines.push(cur);
      cur = null;
    },
  };
  const sp = new LineSplitter(sink);
  for (let i = 0, k = 0; i < input.length; k++) {
    const n = sizes[k % sizes.length]!;
    const chunk = Buffer.from(input.subarray(i, i + n)); // a fresh buffer each time
    sp.write(chunk);
    chunk.fill(0x21); // the splitter must not keep references into a caller's buffer
    i += n;
  }
  sp.finish();
  assert.equal(sp.offset, input.length);
  return lines;
}

/** Reference: split on LF, a CR before the LF is part of the line end. */
function reference(s: string): Array<Pick<Line, 'start' | 'lf' | 'content' | 'nl' | 'end'>> {
  const out = [];
  let pos = 0;
  let lf = 0;
  while (pos < s.length) {
    const i = s.indexOf('\n', pos);
    if (i === -1) {
      out.push({ start: pos, lf, content: s.slice(pos), nl: 0, end: s.length });
      break;
    }
    const cr = i > pos && s[i - 1] === '\r';
    out.push({ start: pos, lf, content: s.slice(pos, cr ? i - 1 : i), nl: cr ? 2 : 1, end: i + 1 });
    pos = i + 1;
    lf++;
  }
  return out;
}

test('lines, line ends and offsets in any chunking (1..512 bytes)', () => {
  const long = 'L'.repeat(HEAD_BYTES + 5);
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom('a', '\r', '\n', '\r\n', '-', long, long.slice(0, HEAD_BYTES - 1) + '\r', ''), { maxLength: 30 }).map((p) => p.join('')),
      fc.array(fc.integer({ min: 1, max: 512 }), { minLength: 1, maxLength: 10 }),
      (s, sizes) => {
        const got = collect(Buffer.from(s, 'latin1'), sizes);
        assert.deepEqual(
          got.map(({ start, lf, content, nl, end }) => ({ start, lf, content, nl, end })),
          reference(s),
        );
        for (const l of got) {
          // the head is the whole content of a short line, and at least HEAD_BYTES - 1 bytes of a long one
          if (l.content.length < HEAD_BYTES) assert.equal(l.headLen, l.content.length);
          else assert.ok(l.headLen >= HEAD_BYTES - 1);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('edge cases: empty input, trailing CR, CR held across chunks', () => {
  assert.deepEqual(collect(Buffer.alloc(0), [1]), []);
  const t = collect(Buffer.from('ab\r'), [1]);
  assert.deepEqual(t.map((l) => [l.content, l.nl]), [['ab\r', 0]]);
  const long = 'x'.repeat(HEAD_BYTES * 2);
  const u = collect(Buffer.from(`${long}\r\n${long}\r\rz\n`), [HEAD_BYTES * 2, 1, 1, 3]);
  assert.deepEqual(
    u.map((l) => [l.content.length, l.nl]),
    [
      [long.length, 2],
      [long.length + 3, 1],
    ],
  );
});
