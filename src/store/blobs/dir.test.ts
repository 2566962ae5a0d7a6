import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isStoreError } from '../errors.js';
import type { BlobStore } from '../types.js';
import { createDirBlobStore } from './dir.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('dir blob store', () => {
  let dir: string;
  let blobs: BlobStore;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mailroom-blobs-'));
    blobs = createDirBlobStore(join(dir, 'blobs'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('stores a buffer content-addressed under ab/cd/<hash>', async () => {
    const data = Buffer.from('Subject: hi\r\n\r\nhello\r\n');
    const ref = await blobs.put(data);
    assert.equal(ref.id, sha(data));
    assert.equal(ref.size, data.length);
    const file = join(dir, 'blobs', ref.id.slice(0, 2), ref.id.slice(2, 4), ref.id);
    assert.ok(existsSync(file));
    assert.deepEqual(await blobs.read(ref.id), data);
    assert.equal(await blobs.has(ref.id), true);
    // No temp files left behind.
    assert.deepEqual(readdirSync(join(dir, 'blobs', 'tmp')), []);
  });

  it('same bytes are stored once, from a buffer or a stream', async () => {
    const data = Buffer.from('same bytes\r\n'.repeat(100));
    const a = await blobs.put(data);
    const b = await blobs.put(Readable.from([data.subarray(0, 7), data.subarray(7)]));
    assert.deepEqual(a, b);
    const files = readdirSync(join(dir, 'blobs', a.id.slice(0, 2), a.id.slice(2, 4)));
    assert.deepEqual(files, [a.id]);
  });

  it('streams a 20 MB body in and out without changing a byte', async () => {
    const chunk = Buffer.alloc(64 * 1024);
    let total = 0;
    const hash = createHash('sha256');
    let seed = 7;
    function* gen() {
      for (let i = 0; i < 320; i++) {
        for (let j = 0; j < chunk.length; j++) {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          chunk[j] = seed & 0xff;
        }
        const copy = Buffer.from(chunk);
        hash.update(copy);
        total += copy.length;
        yield copy;
      }
    }
    const ref = await blobs.put(Readable.from(gen()));
    assert.equal(ref.size, 20 * 1024 * 1024);
    assert.equal(ref.id, hash.digest('hex'));
    const back = createHash('sha256');
    let n = 0;
    let maxChunk = 0;
    for await (const c of await blobs.open(ref.id)) {
      back.update(c as Buffer);
      n += (c as Buffer).length;
      maxChunk = Math.max(maxChunk, (c as Buffer).length);
    }
    assert.equal(n, total);
    assert.equal(back.digest('hex'), ref.id);
    assert.ok(maxChunk <= 64 * 1024, 'open() streams in bounded chunks');
  });

  it('open() with a byte range (end exclusive, like BodyPart offsets)', async () => {
    const data = Buffer.from('0123456789abcdef');
    const ref = await blobs.put(data);
    assert.equal((await collect(await blobs.open(ref.id, { start: 3, end: 7 }))).toString(), '3456');
    assert.equal((await collect(await blobs.open(ref.id, { start: 0, end: 16 }))).toString(), '0123456789abcdef');
    assert.equal((await collect(await blobs.open(ref.id, { start: 10, end: 100 }))).toString(), 'abcdef');
    assert.equal((await collect(await blobs.open(ref.id, { start: 5, end: 5 }))).length, 0);
    assert.equal((await collect(await blobs.open(ref.id, { start: 50, end: 60 }))).length, 0);
  });

  it('concurrent puts of the same content all resolve to one file', async () => {
    const data = Buffer.from('concurrent\r\n'.repeat(5000));
    const refs = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? blobs.put(data) : blobs.put(Readable.from([data])))),
    );
    for (const r of refs) assert.deepEqual(r, refs[0]);
    assert.deepEqual(await blobs.read(refs[0]!.id), data);
    assert.deepEqual(readdirSync(join(dir, 'blobs', 'tmp')), []);
  });

  it('unknown ids: notFound; malformed ids: invalid; delete is idempotent', async () => {
    const missing = 'f'.repeat(64);
    await assert.rejects(blobs.open(missing), (e) => isStoreError(e, 'notFound'));
    await assert.rejects(blobs.read(missing), (e) => isStoreError(e, 'notFound'));
    assert.equal(await blobs.has(missing), false);
    assert.equal(await blobs.has('../etc/passwd'), false);
    await assert.rejects(blobs.open('../../etc/passwd'), (e) => isStoreError(e, 'invalid'));
    const ref = await blobs.put(Buffer.from('to delete'));
    await blobs.delete(ref.id);
    await blobs.delete(ref.id);
    assert.equal(await blobs.has(ref.id), false);
  });

  it('a failing source stream leaves no file and no temp file', async () => {
    const src = new Readable({
      read() {
        this.push(Buffer.from('partial data'));
        this.destroy(new Error('client went away'));
      },
    });
    const before = await blobs.usage();
    await assert.rejects(blobs.put(src), /client went away/);
    assert.equal(await blobs.usage(), before);
    assert.deepEqual(readdirSync(join(dir, 'blobs', 'tmp')), []);
  });

  it('list(olderThan) gives old blobs only; a re-put refreshes the age; stale temp files are removed', async () => {
    const d = mkdtempSync(join(tmpdir(), 'mailroom-blobs-list-'));
    try {
      const b = createDirBlobStore(d);
      const old = await b.put(Buffer.from('old'));
      const young = await b.put(Buffer.from('young'));
      const again = await b.put(Buffer.from('again'));
      const past = new Date(Date.now() - 3600_000);
      for (const id of [old.id, again.id]) utimesSync(join(d, id.slice(0, 2), id.slice(2, 4), id), past, past);
      mkdirSync(join(d, 'tmp'), { recursive: true });
      writeFileSync(join(d, 'tmp', 'crashed.tmp'), 'half');
      utimesSync(join(d, 'tmp', 'crashed.tmp'), past, past);
      await b.put(Buffer.from('again')); // touched: no longer old
      const listed: string[] = [];
      for await (const id of b.list(new Date(Date.now() - 60_000))) listed.push(id);
      assert.deepEqual(listed, [old.id]);
      assert.equal(existsSync(join(d, 'tmp', 'crashed.tmp')), false);
      const all: string[] = [];
      for await (const id of b.list()) all.push(id);
      assert.deepEqual(all.sort(), [old.id, young.id, again.id].sort());
      assert.equal(await b.usage(), 3 + 5 + 5);
      assert.ok(statSync(join(d, young.id.slice(0, 2))).isDirectory());
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
