/**
 * The PostgreSQL blob store on a real server (a fresh database per run):
 * content addressing, chunking and ranges across chunk boundaries, a 50 MB
 * body streamed in with backpressure and out in bounded chunks, dedup under
 * concurrent puts from two pools (two nodes), GC helpers, and the orphan
 * chunks a kill -9 in the middle of a put leaves behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { isStoreError } from '../errors.js';
import { createTestDatabase, pgSkipReason, type TestDatabase } from '../postgres/testing.js';
import { CHUNK_SIZE, createPostgresBlobStore } from './postgres.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const here = dirname(fileURLToPath(import.meta.url));

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Deterministic pseudo-random bytes. */
function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    b[i] = s >> 16;
  }
  return b;
}

const skip = await pgSkipReason();

describe('postgres blob store', { skip: skip ?? false }, () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let pool2: pg.Pool;
  before(async () => {
    db = await createTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 3 });
    pool2 = new pg.Pool({ connectionString: db.url, max: 3 });
  });
  after(async () => {
    await pool?.end();
    await pool2?.end();
    await db?.drop();
  });

  const count = async (sql: string, params: unknown[] = []) => Number((await pool.query(sql, params)).rows[0].n);

  it('stores bytes content-addressed in fixed-size chunk rows; read, has, open', async () => {
    const blobs = createPostgresBlobStore(pool, { chunkSize: 1000 });
    const data = bytes(3500);
    const ref = await blobs.put(data);
    assert.deepEqual(ref, { id: sha(data), size: 3500 });
    assert.deepEqual(await blobs.read(ref.id), data);
    assert.deepEqual(await collect(await blobs.open(ref.id)), data);
    assert.equal(await blobs.has(ref.id), true);
    assert.equal(await blobs.has('0'.repeat(64)), false);
    assert.equal(await blobs.has('not-an-id'), false);
    const sizes = (await pool.query('SELECT length(c.data) AS l FROM blob_chunks c JOIN blob_data d USING (upload_id) WHERE d.id = $1 ORDER BY n', [ref.id])).rows.map(
      (r) => r.l,
    );
    assert.deepEqual(sizes, [1000, 1000, 1000, 500]);
    const empty = await blobs.put(Buffer.alloc(0));
    assert.deepEqual(empty, { id: sha(Buffer.alloc(0)), size: 0 });
    assert.deepEqual(await blobs.read(empty.id), Buffer.alloc(0));
    assert.deepEqual(await collect(await blobs.open(empty.id)), Buffer.alloc(0));
  });

  it('ranges: start inclusive, end exclusive, across chunk boundaries, clamped to the size', async () => {
    const blobs = createPostgresBlobStore(pool, { chunkSize: 1000 });
    const data = bytes(4321, 9);
    const { id } = await blobs.put(data);
    const cases: Array<[number, number]> = [
      [0, 4321],
      [0, 1],
      [999, 1001],
      [1000, 2000],
      [1500, 3999],
      [4320, 4321],
      [2500, 2500],
      [3000, 2000],
      [4000, 99999],
      [5000, 6000],
    ];
    for (let i = 0; i < 30; i++) {
      const a = (i * 7919) % 4400;
      cases.push([a, a + ((i * 104729) % 2600)]);
    }
    for (const [start, end] of cases) {
      const got = await collect(await blobs.open(id, { start, end }));
      assert.deepEqual(got, data.subarray(start, Math.max(start, end)), `range ${start}-${end}`);
    }
  });

  it('the same bytes are stored once, from a buffer or a stream split anywhere; a put refreshes written_at', async () => {
    const blobs = createPostgresBlobStore(pool, { chunkSize: 777 });
    const data = bytes(5000, 3);
    const a = await blobs.put(data);
    const before = (await pool.query('SELECT written_at FROM blob_data WHERE id = $1', [a.id])).rows[0].written_at;
    await sleep(5);
    const b = await blobs.put(Readable.from([data.subarray(0, 1), data.subarray(1, 778), data.subarray(778, 4000), data.subarray(4000)]));
    const c = await blobs.put(Readable.from([data.toString('latin1')].map((s) => Buffer.from(s, 'latin1'))));
    assert.deepEqual(a, b);
    assert.deepEqual(a, c);
    assert.equal(await count('SELECT count(*) AS n FROM blob_data WHERE id = $1', [a.id]), 1);
    const after = (await pool.query('SELECT written_at FROM blob_data WHERE id = $1', [a.id])).rows[0].written_at;
    assert.ok(Number(after) > Number(before), 'written_at refreshed');
    assert.equal(await count('SELECT count(*) AS n FROM blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM blob_data d WHERE d.upload_id = c.upload_id)'), 0, 'no stray chunks');
  });

  it('two nodes putting the same bytes at once store them once', async () => {
    const one = createPostgresBlobStore(pool, { chunkSize: 1024 });
    const two = createPostgresBlobStore(pool2, { chunkSize: 1024 });
    const data = bytes(20_000, 5);
    const refs = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? one : two).put(Readable.from([data.subarray(0, 9000), data.subarray(9000)]))));
    for (const r of refs) assert.deepEqual(r, { id: sha(data), size: data.length });
    assert.equal(await count('SELECT count(*) AS n FROM blob_data WHERE id = $1', [sha(data)]), 1);
    assert.equal(await count('SELECT count(*) AS n FROM blob_chunks c JOIN blob_data d USING (upload_id) WHERE d.id = $1', [sha(data)]), 20);
    assert.equal(await count('SELECT count(*) AS n FROM blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM blob_data d WHERE d.upload_id = c.upload_id)'), 0);
    assert.deepEqual(await two.read(sha(data)), data);
  });

  it('streams 50 MB in with backpressure and out in chunks of at most 256 KiB, unchanged', async () => {
    const blobs = createPostgresBlobStore(pool);
    const piece = 64 * 1024;
    const total = 50 * 1024 * 1024;
    const hash = createHash('sha256');
    let generated = 0;
    let maxAhead = 0;
    const staged = () => count('SELECT coalesce(sum(length(data)), 0) AS n FROM blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM blob_data d WHERE d.upload_id = c.upload_id)');
    async function* source() {
      let seed = 11;
      while (generated < total) {
        const b = Buffer.allocUnsafe(piece);
        for (let j = 0; j < piece; j += 4) {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          b.writeInt32LE(seed, j);
        }
        hash.update(b);
        generated += piece;
        if (generated % (4 * 1024 * 1024) === 0) maxAhead = Math.max(maxAhead, generated - (await staged()));
        yield b;
      }
    }
    const ref = await blobs.put(Readable.from(source()));
    assert.equal(ref.size, total);
    assert.equal(ref.id, hash.digest('hex'));
    // What the source produced beyond what the database holds: at most one chunk being filled plus one piece.
    assert.ok(maxAhead <= CHUNK_SIZE + piece, `the source ran ${maxAhead} bytes ahead of the database`);
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
    assert.ok(maxChunk <= CHUNK_SIZE, `chunks of ${maxChunk} bytes`);
    assert.equal(await count('SELECT count(*) AS n FROM blob_chunks c JOIN blob_data d USING (upload_id) WHERE d.id = $1', [ref.id]), total / CHUNK_SIZE);
    await blobs.delete(ref.id);
    assert.equal(await blobs.has(ref.id), false);
  });

  it('unknown ids: notFound; malformed ids: invalid; a failing source leaves nothing', async () => {
    const blobs = createPostgresBlobStore(pool, { chunkSize: 100 });
    const missing = 'f'.repeat(64);
    await assert.rejects(blobs.read(missing), (e) => isStoreError(e, 'notFound'));
    await assert.rejects(blobs.open(missing), (e) => isStoreError(e, 'notFound'));
    await assert.rejects(blobs.read('../etc/passwd'), (e) => isStoreError(e, 'invalid'));
    await assert.rejects(blobs.delete('xyz'), (e) => isStoreError(e, 'invalid'));
    const before = await count('SELECT count(*) AS n FROM blob_chunks');
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(250, 1));
        this.destroy(new Error('client went away'));
      },
    });
    await assert.rejects(blobs.put(failing), /client went away/);
    assert.equal(await count('SELECT count(*) AS n FROM blob_chunks'), before, 'the failed upload left no chunks');
  });

  it('delete, deleteIfIdleSince (a fresh put keeps the blob), list(olderThan), usage', async () => {
    const blobs = createPostgresBlobStore(pool, { chunkSize: 512 });
    const a = await blobs.put(bytes(2000, 21));
    const b = await blobs.put(bytes(100, 22));
    await sleep(5);
    const cutoff = new Date();
    await sleep(5);
    const c = await blobs.put(bytes(300, 23));
    const listed = new Set<string>();
    for await (const id of blobs.list(cutoff)) listed.add(id);
    assert.ok(listed.has(a.id) && listed.has(b.id));
    assert.ok(!listed.has(c.id), 'written after the cutoff');
    const all = new Set<string>();
    for await (const id of blobs.list()) all.add(id);
    assert.ok(all.has(c.id));
    assert.ok((await blobs.usage()) >= 2400);
    // b is written again after the cutoff: not idle, so it stays.
    await blobs.put(bytes(100, 22));
    assert.equal(await blobs.deleteIfIdleSince(b.id, cutoff), false);
    assert.equal(await blobs.has(b.id), true);
    assert.equal(await blobs.deleteIfIdleSince(a.id, cutoff), true);
    assert.equal(await blobs.has(a.id), false);
    assert.equal(await blobs.deleteIfIdleSince(a.id, cutoff), true, 'already gone counts as gone');
    await blobs.delete(b.id);
    await blobs.delete(b.id);
    assert.equal(await blobs.has(b.id), false);
    assert.equal(await count('SELECT count(*) AS n FROM blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM blob_data d WHERE d.upload_id = c.upload_id)'), 0);
  });

  it('kill -9 in the middle of a put leaves only orphan chunks, which list(olderThan) removes', async () => {
    const blobs = createPostgresBlobStore(pool);
    const known = await blobs.put(bytes(1000, 31));
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'postgres-test-worker.ts'), db.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the worker never staged its chunks: ${err}`)), 20_000);
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('staged')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('exit', () => reject(new Error(`the worker exited early: ${err}`)));
    });
    // Let the staged rows commit, then crash.
    await sleep(300);
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    const orphans = () => count('SELECT count(*) AS n FROM blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM blob_data d WHERE d.upload_id = c.upload_id)');
    assert.ok((await orphans()) >= 3, 'the crashed upload left chunks');
    // Within the grace period (cutoff before the crash) they stay: the upload could still be running.
    for await (const _ of blobs.list(new Date(Date.now() - 3600_000))) void _;
    assert.ok((await orphans()) >= 3);
    for await (const _ of blobs.list(new Date(Date.now() + 1000))) void _;
    assert.equal(await orphans(), 0);
    assert.deepEqual(await blobs.read(known.id), bytes(1000, 31), 'named blobs are untouched');
  });
});
