/**
 * Message bodies in PostgreSQL, for several nodes sharing one database:
 * content-addressed (sha256), stored as fixed-size chunks (256 KiB rows), so a
 * 50 MB message is streamed in and out without being held whole in memory.
 *
 * Rules this store keeps (the same as the directory store, blobs/dir.ts):
 * - put() streams the bytes into chunk rows under a fresh upload id while
 *   hashing, each chunk its own short statement (no connection is held for
 *   the length of an SMTP DATA), then one transaction names the upload by its
 *   hash. A blob smaller than one chunk (most mail) is named and stored in a
 *   single statement. put() resolves only after that COMMIT: from then on the
 *   bytes are as durable as the database (synchronous_commit on, the default).
 * - The same bytes are stored once: when the hash is already known, the new
 *   chunks are dropped and the blob's written_at is refreshed, so the garbage
 *   collector (which only removes blobs idle longer than its grace period)
 *   never deletes a blob that a delivery is about to reference again.
 * - Chunks of an upload that never got its name (a crash mid-put) are
 *   orphans: list(olderThan) removes the ones idle longer than the cutoff, as
 *   the directory store removes its stale temp files.
 * - Blobs are never modified in place; open() streams them chunk by chunk
 *   (ranges read only the chunks, and the bytes of them, they need) and only
 *   read() loads a whole blob into memory.
 *
 * The tables belong to this store, not to the Store's migrations (the blob
 * store is chosen independently of the metadata store): they are created on
 * first use under an advisory lock, so nodes starting together do not race.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { StoreError } from '../errors.js';
import { inTransaction, queryWithReconnect } from '../postgres/retry.js';
import type { BlobRef, BlobStore } from '../types.js';

export const CHUNK_SIZE = 256 * 1024;
const ID_RE = /^[0-9a-f]{64}$/;
const SCHEMA_LOCK_KEY = '7164510235542611297'; // "blobstor" as a number, fixed for every node

const SCHEMA = `
CREATE SEQUENCE IF NOT EXISTS blob_uploads;
CREATE TABLE IF NOT EXISTS blob_data (
  id TEXT PRIMARY KEY,                  -- sha256 hex of the bytes
  upload_id BIGINT NOT NULL UNIQUE,     -- its chunks in blob_chunks
  size BIGINT NOT NULL,
  chunk_size INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  written_at BIGINT NOT NULL            -- refreshed by a put() of the same bytes (GC grace)
);
CREATE INDEX IF NOT EXISTS blob_data_written ON blob_data(written_at);
CREATE TABLE IF NOT EXISTS blob_chunks (
  upload_id BIGINT NOT NULL,
  n INTEGER NOT NULL,                   -- 0, 1, ...: bytes [n * chunk_size, (n + 1) * chunk_size)
  data BYTEA NOT NULL,
  written_at BIGINT NOT NULL,
  PRIMARY KEY (upload_id, n)
);
`;

/** Conditional removal the garbage collector uses when the blob store offers it. */
export interface IdleDelete {
  /** Removes the blob unless it was written at or after `since`; true if it is gone. */
  deleteIfIdleSince(id: string, since: Date): Promise<boolean>;
}

export interface PostgresBlobStoreOptions {
  /** Bytes per chunk row for new blobs (existing blobs keep theirs). */
  chunkSize?: number;
}

interface BlobRow {
  upload_id: string | number;
  size: string | number;
  chunk_size: number;
}

export function createPostgresBlobStore(pool: pg.Pool, opts: PostgresBlobStoreOptions = {}): BlobStore & IdleDelete {
  const chunkSize = opts.chunkSize ?? CHUNK_SIZE;
  /** Statements on the pool; one that met a dead connection (a restarted server) is sent again. */
  const query = <R extends pg.QueryResultRow = pg.QueryResultRow>(config: pg.QueryConfig | string, values?: unknown[]) =>
    queryWithReconnect<R>(pool, typeof config === 'string' ? { text: config, values } : config);
  let schema: Promise<void> | null = null;

  const ready = (): Promise<void> => {
    schema ??= ensureSchema(pool).catch((err) => {
      schema = null; // try again on the next call
      throw err;
    });
    return schema;
  };

  const checkId = (id: string) => {
    if (!ID_RE.test(id)) throw new StoreError('invalid', `not a blob id: ${JSON.stringify(id)}`);
  };

  const find = async (id: string): Promise<BlobRow> => {
    checkId(id);
    await ready();
    const r = await query<BlobRow>({ name: 'mr_blob_find', text: 'SELECT upload_id, size, chunk_size FROM blob_data WHERE id = $1', values: [id] });
    if (!r.rows[0]) throw new StoreError('notFound', `blob ${id} not found`);
    return r.rows[0];
  };

  const writeChunk = (uploadId: string, n: number, data: Buffer) =>
    query({
      name: 'mr_blob_chunk',
      text: 'INSERT INTO blob_chunks (upload_id, n, data, written_at) VALUES ($1, $2, $3, $4)',
      values: [uploadId, n, data, Date.now()],
    });

  const dropUpload = (uploadId: string) => query('DELETE FROM blob_chunks WHERE upload_id = $1', [uploadId]).catch(() => {});

  /** Gives the upload its name in one transaction; drops its chunks when the bytes were already there. */
  async function finish(uploadId: string, id: string, size: number): Promise<void> {
    await inTransaction(pool, async (client) => {
      const r = await client.query<{ upload_id: string }>(
        `INSERT INTO blob_data (id, upload_id, size, chunk_size, created_at, written_at) VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (id) DO UPDATE SET written_at = EXCLUDED.written_at RETURNING upload_id::text`,
        [id, uploadId, size, chunkSize, Date.now()],
      );
      if (r.rows[0]!.upload_id !== uploadId) await client.query('DELETE FROM blob_chunks WHERE upload_id = $1', [uploadId]);
    });
  }

  /** A blob of at most one chunk: named and stored in one statement (one round trip, one commit). */
  async function putSmall(id: string, data: Buffer): Promise<void> {
    await query({
      name: 'mr_blob_put_small',
      text: `WITH u AS (SELECT nextval('blob_uploads') AS upload_id),
             d AS (INSERT INTO blob_data (id, upload_id, size, chunk_size, created_at, written_at)
                   SELECT $1, upload_id, $2, $3, $4, $4 FROM u
                   ON CONFLICT (id) DO UPDATE SET written_at = EXCLUDED.written_at
                   RETURNING upload_id, (xmax = 0) AS inserted)
             INSERT INTO blob_chunks (upload_id, n, data, written_at) SELECT upload_id, 0, $5, $4 FROM d WHERE inserted AND $2 > 0`,
      values: [id, data.length, chunkSize, Date.now(), data],
    });
  }

  const store: BlobStore & IdleDelete = {
    async put(data) {
      await ready();
      const hash = createHash('sha256');
      let size = 0;
      let n = 0;
      let pending: Buffer[] = [];
      let pendingLen = 0;
      // Taken when the first full chunk is staged; a blob smaller than one chunk never needs one.
      let uploadId: string | null = null;
      const stage = async (chunk: Buffer) => {
        uploadId ??= (await query<{ id: string }>("SELECT nextval('blob_uploads')::text AS id")).rows[0]!.id;
        await writeChunk(uploadId, n++, chunk);
      };
      try {
        const take = async (buf: Buffer) => {
          hash.update(buf);
          size += buf.length;
          pending.push(buf);
          pendingLen += buf.length;
          while (pendingLen >= chunkSize) {
            const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
            // Awaiting each row is the backpressure: the source is not read faster than the database takes it.
            await stage(all.subarray(0, chunkSize));
            const rest = all.subarray(chunkSize);
            pending = rest.length ? [rest] : [];
            pendingLen = rest.length;
          }
        };
        if (Buffer.isBuffer(data)) {
          await take(data);
        } else {
          for await (const chunk of data as AsyncIterable<Buffer | string | Uint8Array>) {
            await take(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
          }
        }
        const id = hash.digest('hex');
        const rest = Buffer.concat(pending, pendingLen);
        if (uploadId === null) {
          await putSmall(id, rest);
        } else {
          if (rest.length > 0) await stage(rest);
          await finish(uploadId, id, size);
        }
        return { id, size } satisfies BlobRef;
      } catch (err) {
        if (uploadId !== null) await dropUpload(uploadId);
        throw err;
      }
    },

    async open(id, range) {
      const row = await find(id);
      const size = Number(row.size);
      const cs = row.chunk_size;
      const start = Math.max(0, Math.min(range?.start ?? 0, size));
      const end = Math.max(start, Math.min(range?.end ?? size, size));
      if (end <= start) return Readable.from([]);
      let k = Math.floor(start / cs);
      const last = Math.floor((end - 1) / cs);
      const uploadId = String(row.upload_id);
      return new Readable({
        highWaterMark: 1, // one chunk (up to 256 KiB) read ahead at most
        read() {
          if (k > last) {
            this.push(null);
            return;
          }
          const n = k++;
          const from = n === Math.floor(start / cs) ? start - n * cs : 0;
          const to = n === last ? end - n * cs : cs;
          query<{ data: Buffer }>({
            name: 'mr_blob_read',
            text: 'SELECT substring(data FROM $3 FOR $4) AS data FROM blob_chunks WHERE upload_id = $1 AND n = $2',
            values: [uploadId, n, from + 1, to - from],
          }).then(
            (r) => {
              const data = r.rows[0]?.data;
              if (!data) this.destroy(new StoreError('notFound', `blob ${id} lost its chunk ${n}`));
              else this.push(data);
            },
            (err: unknown) => this.destroy(err as Error),
          );
        },
      });
    },

    async read(id) {
      const row = await find(id);
      const r = await query<{ data: Buffer }>({
        name: 'mr_blob_read_all',
        text: 'SELECT data FROM blob_chunks WHERE upload_id = $1 ORDER BY n',
        values: [String(row.upload_id)],
      });
      const out = Buffer.concat(
        r.rows.map((x) => x.data),
        Number(row.size),
      );
      if (out.length !== Number(row.size)) throw new StoreError('notFound', `blob ${id} is incomplete`);
      return out;
    },

    async has(id) {
      if (!ID_RE.test(id)) return false;
      await ready();
      return (await query({ name: 'mr_blob_has', text: 'SELECT 1 FROM blob_data WHERE id = $1', values: [id] })).rowCount! > 0;
    },

    async delete(id) {
      checkId(id);
      await ready();
      await query({
        name: 'mr_blob_delete',
        text: `WITH d AS (DELETE FROM blob_data WHERE id = $1 RETURNING upload_id)
               DELETE FROM blob_chunks WHERE upload_id IN (SELECT upload_id FROM d)`,
        values: [id],
      });
    },

    async deleteIfIdleSince(id, since) {
      checkId(id);
      await ready();
      const r = await query<{ gone: boolean }>({
        name: 'mr_blob_delete_idle',
        text: `WITH d AS (DELETE FROM blob_data WHERE id = $1 AND written_at < $2 RETURNING upload_id),
                    c AS (DELETE FROM blob_chunks WHERE upload_id IN (SELECT upload_id FROM d))
               SELECT EXISTS (SELECT 1 FROM d) OR NOT EXISTS (SELECT 1 FROM blob_data WHERE id = $1) AS gone`,
        values: [id, since.getTime()],
      });
      return r.rows[0]!.gone;
    },

    async *list(olderThan) {
      await ready();
      const limit = olderThan?.getTime() ?? null;
      if (limit !== null) {
        // Chunks of uploads that never got a name and have been idle since the cutoff: a crash mid-put.
        await query(
          `DELETE FROM blob_chunks WHERE upload_id IN (
             SELECT c.upload_id FROM blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM blob_data d WHERE d.upload_id = c.upload_id)
             GROUP BY c.upload_id HAVING max(c.written_at) < $1)`,
          [limit],
        );
      }
      let after = '';
      for (;;) {
        const r = await query<{ id: string }>({
          name: 'mr_blob_list',
          text: 'SELECT id FROM blob_data WHERE id COLLATE "C" > $1 AND ($2::bigint IS NULL OR written_at < $2) ORDER BY id COLLATE "C" LIMIT 1000',
          values: [after, limit],
        });
        for (const { id } of r.rows) yield id;
        if (r.rows.length < 1000) return;
        after = r.rows.at(-1)!.id;
      }
    },

    async usage() {
      await ready();
      const r = await query<{ n: string }>('SELECT coalesce(sum(size), 0)::text AS n FROM blob_data');
      return Number(r.rows[0]!.n);
    },

    async close() {},
  };
  return store;
}

async function ensureSchema(pool: pg.Pool): Promise<void> {
  const exists = await queryWithReconnect<{ t: string | null }>(pool, { text: `SELECT to_regclass('blob_chunks')::text AS t` });
  if (exists.rows[0]?.t) return;
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
    await client.query(SCHEMA);
  });
}
