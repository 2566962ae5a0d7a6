/**
 * Property tests: the streaming Indexer fed any message in chunks of 1..512
 * bytes gives exactly the index indexMessage gives; offsets always satisfy the
 * BodyPart invariants; well-formed generated trees come back as generated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Indexer, indexMessage } from './index.js';
import type { BodyPart, MessageIndex } from './types.js';
import { render, treeArb, type Node } from './trees.fixture.js';

function chunked(raw: Buffer, sizes: number[]): MessageIndex {
  const ix = new Indexer();
  for (let i = 0, k = 0; i < raw.length; k++) {
    const n = sizes[k % sizes.length]!;
    ix.write(raw.subarray(i, i + n));
    i += n;
  }
  return ix.finish();
}

function checkOffsets(raw: Buffer, idx: MessageIndex): void {
  const walk = (p: BodyPart, lo: number, hi: number) => {
    assert.ok(lo <= p.headerStart && p.headerStart <= p.bodyStart && p.bodyStart <= p.bodyEnd && p.bodyEnd <= hi);
    assert.equal(p.size, p.bodyEnd - p.bodyStart);
    if (p.lines !== null) assert.equal(p.lines, raw.subarray(p.bodyStart, p.bodyEnd).toString('latin1').split('\n').length - 1);
    if (p.type === 'multipart') assert.ok(p.parts !== undefined && p.parts.length > 0);
    for (const c of p.parts ?? []) walk(c, p.bodyStart, p.bodyEnd);
    if (p.type === 'message' && (p.subtype === 'rfc822' || p.subtype === 'global')) {
      assert.ok(p.message !== undefined && p.envelope !== undefined);
      walk(p.message, p.bodyStart, p.bodyEnd);
    }
  };
  assert.equal(idx.body.bodyEnd, raw.length);
  walk(idx.body, 0, raw.length);
}

/** The index must describe the generated tree: structure, and each leaf's exact body bytes. */
function matches(raw: Buffer, node: Node, part: BodyPart, nl: string): void {
  switch (node.kind) {
    case 'leaf':
      assert.equal(`${part.type}/${part.subtype}`, node.type.split(';')[0]);
      assert.equal(part.encoding, node.encoding);
      assert.equal(raw.subarray(part.bodyStart, part.bodyEnd).toString('utf8'), node.lines.join(nl));
      return;
    case 'multipart':
      assert.equal(part.subtype, node.subtype);
      assert.equal(part.parts!.length, node.children.length);
      node.children.forEach((c, i) => matches(raw, c, part.parts![i]!, nl));
      return;
    case 'message':
      assert.deepEqual([part.type, part.subtype], ['message', 'rfc822']);
      assert.equal(part.envelope!.subject, node.subject.trim());
      matches(raw, node.child, part.message!, nl);
  }
}

const sizesArb = fc.array(fc.integer({ min: 1, max: 512 }), { minLength: 1, maxLength: 20 });

test('generated MIME trees: chunked Indexer = indexMessage, and the index describes the tree', () => {
  fc.assert(
    fc.property(treeArb, fc.constantFrom('\r\n', '\n'), sizesArb, (tree, nl, sizes) => {
      const raw = Buffer.from(`From: a@b.c${nl}Subject: t${nl}` + render(tree, nl), 'utf8');
      const idx = indexMessage(raw);
      checkOffsets(raw, idx);
      assert.deepEqual(chunked(raw, sizes), idx);
      matches(raw, tree, idx.body, nl);
    }),
    { numRuns: 300 },
  );
});

const FRAGMENTS = [
  'Content-Type: multipart/mixed; boundary=b\r\n',
  'Content-Type: message/rfc822\r\n',
  'Content-Type: multipart/digest; boundary=bb\r\n',
  'Content-Type: text/plain; charset=utf-8\r\n',
  'Content-Transfer-Encoding: base64\r\n',
  'Subject: =?utf-8?q?x?=\r\n',
  '--b\r\n',
  '--b--\r\n',
  '--bb\r\n',
  '--bb--',
  '\r\n',
  '\n',
  '\r',
  ' folded\r\n',
  'From: <a@b> (c), "d" <e@f>;\r\n',
  'body text\r\n',
  '\u0000',
  '\u00ff\u00fe',
  'x'.repeat(3000),
];

test('arbitrary bytes and MIME fragments: never throws, offsets hold, chunking does not matter', () => {
  const inputArb = fc.oneof(
    fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
    fc.array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 20 })), { maxLength: 40 }).map((parts) => Buffer.from(parts.join(''), 'latin1')),
  );
  fc.assert(
    fc.property(inputArb, sizesArb, (raw, sizes) => {
      const idx = indexMessage(raw);
      checkOffsets(raw, idx);
      assert.deepEqual(chunked(raw, sizes), idx);
      assert.doesNotThrow(() => JSON.stringify(idx));
    }),
    { numRuns: 400 },
  );
});
