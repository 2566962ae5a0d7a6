import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createDirBlobStore } from './blobs/dir.js';
import type { BlobStore } from './types.js';
import { indexMessage } from '../core/mime/index.js';
import { sectionRange } from '../core/mime/sections.js';
import { ingest, isMessageTooLarge, MessageTooLargeError } from './ingest.js';

let dir: string;
let blobs: BlobStore;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mailroom-ingest-'));
  blobs = createDirBlobStore(join(dir, 'blobs'));
});
after(async () => {
  await blobs.close();
  rmSync(dir, { recursive: true, force: true });
});

async function allBlobs(): Promise<string[]> {
  const ids: string[] = [];
  for await (const id of blobs.list()) ids.push(id);
  return ids;
}

function tmpFiles(): string[] {
  try {
    return readdirSync(join(dir, 'blobs', 'tmp'));
  } catch {
    return [];
  }
}

/** A stream that hands out `data` in pieces of the given sizes (cycling). */
function pieces(data: Buffer, sizes: number[]): Readable {
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < data.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(data.subarray(i, i + n));
    i += n;
  }
  return Readable.from(out);
}

const LF_MESSAGE = Buffer.from(
  [
    'From: Alice <alice@example.org>',
    'Subject: ingest',
    'Content-Type: multipart/mixed; boundary=zz',
    '',
    '--zz',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Grüße\rbare CR',
    '--zz',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('attachment bytes').toString('base64'),
    '--zz--',
    '',
  ].join('\n'),
  'utf8',
);

test('stream source: prefix + LF-only message stored with CRLF; the index describes the stored bytes', async () => {
  const prefix = Buffer.from('Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n');
  const { blob, index } = await ingest(blobs, pieces(LF_MESSAGE, [1, 7, 3, 64]), { prefix });
  const stored = await blobs.read(blob.id);
  assert.ok(stored.subarray(0, prefix.length).equals(prefix));
  assert.equal(stored.indexOf('\n'), stored.indexOf('\r\n') + 1, 'first LF is part of a CRLF');
  assert.ok(!/[^\r]\n|\r[^\n]/.test(stored.toString('latin1')), 'only CRLF line ends');
  assert.equal(blob.size, stored.length);
  assert.equal(index.body.bodyEnd, stored.length);
  assert.deepEqual(index, indexMessage(stored), 'streamed index = one-shot index of the stored bytes');
  assert.equal(index.subject, 'ingest');
  assert.equal(index.headers[0]![0], 'received');
  const r = sectionRange(index, '1')!;
  assert.equal(stored.subarray(r.start, r.end).toString('utf8'), 'Grüße\r\nbare CR');
  const a = sectionRange(index, '2')!;
  assert.equal(Buffer.from(stored.subarray(a.start, a.end).toString(), 'base64').toString(), 'attachment bytes');
  assert.equal(await blobs.has(blob.id), true);
});

test('Buffer, stream, string-stream and Uint8Array sources give the same blob and index', async () => {
  const fromBuffer = await ingest(blobs, LF_MESSAGE);
  const fromStream = await ingest(blobs, pieces(LF_MESSAGE, [5]));
  assert.deepEqual(fromBuffer.blob, fromStream.blob);
  assert.deepEqual(fromBuffer.index, fromStream.index);
  const fromStrings = await ingest(blobs, Readable.from([LF_MESSAGE.toString('utf8')]));
  assert.deepEqual(fromStrings.blob, fromBuffer.blob);
  const fromArrays = await ingest(
    blobs,
    (async function* () {
      yield new Uint8Array(LF_MESSAGE.subarray(0, 10));
      yield new Uint8Array(LF_MESSAGE.subarray(10));
    })(),
  );
  assert.deepEqual(fromArrays.blob, fromBuffer.blob);
});

test('maxBytes: rejects with MessageTooLargeError, leaves no blob and no temp file; the prefix is not counted', async () => {
  const before = await allBlobs();
  const big = Buffer.alloc(300 * 1024, 'a');
  await assert.rejects(ingest(blobs, pieces(big, [16 * 1024]), { maxBytes: 100 * 1024 }), (err: unknown) => {
    assert.ok(isMessageTooLarge(err));
    assert.equal((err as MessageTooLargeError).limit, 100 * 1024);
    return true;
  });
  await assert.rejects(ingest(blobs, big, { maxBytes: 1000 }), MessageTooLargeError);
  assert.deepEqual(await allBlobs(), before);
  assert.deepEqual(tmpFiles(), []);

  // LF → CRLF growth counts: 600 LFs are 1200 octets stored.
  await assert.rejects(ingest(blobs, pieces(Buffer.alloc(600, '\n'), [100]), { maxBytes: 1000 }), MessageTooLargeError);
  // exactly at the limit is fine, and the prefix does not count
  const exact = Buffer.from('Subject: x\r\n\r\n' + 'y'.repeat(986));
  assert.equal(exact.length, 1000);
  const ok = await ingest(blobs, pieces(exact, [333]), { maxBytes: 1000, prefix: Buffer.from('X-Prefix: 1\r\n') });
  assert.equal(ok.blob.size, 1013);
});

test('a failing source rejects with its error and leaves nothing behind', async () => {
  const before = await allBlobs();
  const src = new Readable({
    read() {
      this.push(Buffer.from('Subject: x\r\n\r\npartial'));
      this.destroy(new Error('connection reset'));
    },
  });
  await assert.rejects(ingest(blobs, src), /connection reset/);
  assert.deepEqual(await allBlobs(), before);
  assert.deepEqual(tmpFiles(), []);
});

test('a failing blob store rejects ingest instead of hanging', async () => {
  const broken: BlobStore = {
    ...blobs,
    async put(data) {
      if (!Buffer.isBuffer(data)) {
        // read a little, then fail like a full disk
        for await (const _ of data) break;
      }
      throw new Error('ENOSPC: no space left on device');
    },
  };
  const big = Buffer.alloc(2 * 1024 * 1024, 'z');
  await assert.rejects(ingest(broken, pieces(big, [64 * 1024])), /ENOSPC/);
  await assert.rejects(ingest(broken, big), /ENOSPC/);
});

test('a large message streams through with a bounded index', async () => {
  const part = Buffer.alloc(6 * 1024 * 1024, 'q');
  const head = Buffer.from('Subject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n');
  const tail = Buffer.from('\r\n--b--\r\n');
  const src = Readable.from(
    (function* () {
      yield head;
      for (let i = 0; i < part.length; i += 64 * 1024) yield part.subarray(i, i + 64 * 1024);
      yield tail;
    })(),
  );
  const { blob, index } = await ingest(blobs, src);
  assert.equal(blob.size, head.length + part.length + tail.length);
  assert.equal(index.body.parts![0]!.size, part.length);
  assert.ok(index.text.length <= 1024 * 1024);
  assert.ok(JSON.stringify(index).length < 1.2 * 1024 * 1024);
});
