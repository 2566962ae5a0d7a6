/**
 * Message bodies as content-addressed files: <dir>/ab/cd/<sha256 hex>.
 *
 * Rules this store keeps:
 * - put() streams into a temp file under <dir>/tmp (same file system) while
 *   hashing, fsyncs the file, renames it into place and fsyncs the directory
 *   (and any directory it had to create) before it resolves: once put() returns,
 *   a power cut cannot lose the bytes.
 * - The same bytes are stored once. A put() of bytes already present refreshes
 *   the file's mtime, so the garbage collector (which only removes files older
 *   than its grace period) never deletes a blob that a delivery is about to
 *   reference again.
 * - Files are never modified in place; readers stream them (open) and only
 *   read() loads a whole blob into memory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { StoreError } from '../errors.js';
import type { BlobRef, BlobStore } from '../types.js';

const ID_RE = /^[0-9a-f]{64}$/;
const TMP = 'tmp';

export function createDirBlobStore(dir: string): BlobStore {
  /** Directories known to exist and be durable (created and fsynced, or found). */
  const knownDirs = new Set<string>();

  function pathOf(id: string): string {
    if (!ID_RE.test(id)) throw new StoreError('invalid', `not a blob id: ${JSON.stringify(id)}`);
    return join(dir, id.slice(0, 2), id.slice(2, 4), id);
  }

  /** mkdir -p that fsyncs each parent whose entry list it changed. */
  async function ensureDir(path: string, parent: string): Promise<void> {
    if (knownDirs.has(path)) return;
    // recursive: resolves to the first directory it created, or undefined if it existed.
    const made = (await mkdir(path, { recursive: true })) !== undefined;
    if (made) await fsyncDir(parent);
    knownDirs.add(path);
  }

  async function ensureBlobDirs(id: string): Promise<string> {
    const a = join(dir, id.slice(0, 2));
    const b = join(a, id.slice(2, 4));
    await ensureDir(dir, dirname(dir));
    await ensureDir(a, dir);
    await ensureDir(b, a);
    return b;
  }

  async function writeTemp(data: Readable | Buffer): Promise<{ tmp: string; id: string; size: number }> {
    const tmpDir = join(dir, TMP);
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}.tmp`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      if (Buffer.isBuffer(data)) {
        hash.update(data);
        size = data.length;
        const fh = await open(tmp, 'wx');
        try {
          await fh.writeFile(data);
          await fh.sync();
        } finally {
          await fh.close();
        }
      } else {
        const fh = await open(tmp, 'wx');
        try {
          for await (const chunk of data as AsyncIterable<Buffer | string>) {
            const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
            hash.update(buf);
            size += buf.length;
            // Awaiting each write is the backpressure: the source is not read faster than the disk takes it.
            for (let off = 0; off < buf.length; ) off += (await fh.write(buf, off)).bytesWritten;
          }
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    return { tmp, id: hash.digest('hex'), size };
  }

  const store: BlobStore = {
    async put(data) {
      const { tmp, id, size } = await writeTemp(data);
      try {
        const target = pathOf(id);
        const parent = await ensureBlobDirs(id);
        const existing = await stat(target).catch(() => null);
        if (existing && existing.size === size) {
          // Already durable; refresh mtime so GC treats it as freshly written.
          const now = new Date();
          await utimes(target, now, now);
          await unlink(tmp);
        } else {
          await rename(tmp, target);
          await fsyncDir(parent);
        }
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw err;
      }
      return { id, size } satisfies BlobRef;
    },

    async open(id, range) {
      const path = pathOf(id);
      const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') throw new StoreError('notFound', `blob ${id} not found`);
        throw err;
      });
      if (range && range.end <= range.start) {
        await fh.close();
        return Readable.from([]);
      }
      // range.end is exclusive (like BodyPart offsets); fs streams take an inclusive end.
      return createReadStream('', {
        fd: fh,
        autoClose: true,
        start: range?.start,
        end: range ? range.end - 1 : undefined,
        highWaterMark: 64 * 1024,
      });
    },

    async read(id) {
      return readFile(pathOf(id)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') throw new StoreError('notFound', `blob ${id} not found`);
        throw err;
      });
    },

    async has(id) {
      if (!ID_RE.test(id)) return false;
      return stat(pathOf(id)).then(
        () => true,
        () => false,
      );
    },

    async delete(id) {
      await unlink(pathOf(id)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    },

    async *list(olderThan) {
      const limit = olderThan?.getTime() ?? Infinity;
      // Temp files left by a crash mid-put are orphans too; drop the stale ones.
      for (const name of await readdirSafe(join(dir, TMP))) {
        const p = join(dir, TMP, name);
        const st = await stat(p).catch(() => null);
        if (st && st.mtimeMs < limit && olderThan) await unlink(p).catch(() => {});
      }
      for (const a of await readdirSafe(dir)) {
        if (!/^[0-9a-f]{2}$/.test(a)) continue;
        for (const b of await readdirSafe(join(dir, a))) {
          if (!/^[0-9a-f]{2}$/.test(b)) continue;
          for (const name of await readdirSafe(join(dir, a, b))) {
            if (!ID_RE.test(name)) continue;
            if (olderThan) {
              const st = await stat(join(dir, a, b, name)).catch(() => null);
              if (!st || st.mtimeMs >= limit) continue;
            }
            yield name;
          }
        }
      }
    },

    async usage() {
      let total = 0;
      for (const a of await readdirSafe(dir)) {
        if (!/^[0-9a-f]{2}$/.test(a)) continue;
        for (const b of await readdirSafe(join(dir, a))) {
          for (const name of await readdirSafe(join(dir, a, b))) {
            const st = await stat(join(dir, a, b, name)).catch(() => null);
            if (st) total += st.size;
          }
        }
      }
      return total;
    },

    async close() {},
  };
  return store;
}

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readdirSafe(path: string): Promise<string[]> {
  return readdir(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
}
