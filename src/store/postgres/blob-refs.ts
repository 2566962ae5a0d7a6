/**
 * Blob reference counting (blobs.refs = message rows + queue entries) and the
 * blob's delivery-time index row. Rows of several blobs are always locked in
 * blob id order, the last step of the global lock order (users, mailboxes,
 * blobs), so two expunges of messages sharing blobs never deadlock.
 */
import { headerSearchText } from '../../core/search.js';
import type { MessageIndex } from '../../core/mime/types.js';
import type { BlobRef } from '../types.js';
import { noNul, type Tx } from './db.js';

/**
 * Records `n` more references to the blob (n may be 0 or negative), creating
 * its row if missing and storing its index, texts and search entry if it has
 * none yet. A blob at zero references gets its release time for GC.
 */
export async function refBlob(t: Tx, now: number, blob: BlobRef, index: MessageIndex | null, n: number): Promise<void> {
  // Already indexed (a copy of a message delivered before, a queue entry): only the count moves.
  if (n !== 0 || !index) {
    const moved = await t.run(
      `UPDATE blobs SET refs = refs + $2::bigint, released_at = CASE WHEN $2::bigint = 0 THEN released_at WHEN refs + $2::bigint <= 0 THEN $3::bigint ELSE NULL END
       WHERE id = $1${index ? ' AND index_json IS NOT NULL' : ''}`,
      [blob.id, n, now],
    );
    if (moved > 0) return;
  } else if (await t.one('SELECT 1 FROM blobs WHERE id = $1 AND index_json IS NOT NULL', [blob.id])) {
    return;
  }
  const { text, ...rest } = index ?? ({} as Partial<MessageIndex>);
  const hdrs = index ? noNul(headerSearchText(index.headers)) : null;
  const body = index ? noNul(text ?? '') : null;
  const json = index ? JSON.stringify(rest) : null;
  // One statement: the row (created, or given its index), and the search entry when the index is new.
  // Texts for search are lower-cased by JavaScript, as core/search.ts compares (see migrations/postgres.ts).
  await t.run(
    `WITH prev AS (SELECT index_json IS NOT NULL AS had FROM blobs WHERE id = $1::text),
     up AS (
       INSERT INTO blobs (id, size, refs, released_at, index_json, body_text, hdrs_text, sent_day, created_at)
       VALUES ($1::text, $2::bigint, $3::bigint, CASE WHEN $3::bigint <= 0 THEN $8::bigint END, $4::text, $5::text, $6::text, $7::text, $8::bigint)
       ON CONFLICT (id) DO UPDATE SET
         refs = blobs.refs + EXCLUDED.refs,
         released_at = CASE WHEN EXCLUDED.refs = 0 THEN blobs.released_at WHEN blobs.refs + EXCLUDED.refs <= 0 THEN $8::bigint ELSE NULL END,
         index_json = coalesce(blobs.index_json, EXCLUDED.index_json),
         body_text = CASE WHEN blobs.index_json IS NULL THEN EXCLUDED.body_text ELSE blobs.body_text END,
         hdrs_text = CASE WHEN blobs.index_json IS NULL THEN EXCLUDED.hdrs_text ELSE blobs.hdrs_text END,
         sent_day = CASE WHEN blobs.index_json IS NULL THEN EXCLUDED.sent_day ELSE blobs.sent_day END
       RETURNING seq, coalesce((SELECT had FROM prev), false) AS had_index
     )
     INSERT INTO blob_search (seq, hdrs, body) SELECT seq, $9::text, $10::text FROM up WHERE NOT had_index AND $4::text IS NOT NULL
     ON CONFLICT (seq) DO NOTHING`,
    [blob.id, blob.size, n, json, body, hdrs, index?.sentDay ?? null, now, hdrs?.toLowerCase() ?? null, body?.toLowerCase() ?? null],
  );
}

/** Moves the reference counts of several blobs by the given (non-zero) deltas. */
export async function adjustBlobRefs(t: Tx, now: number, deltas: Map<string, number>): Promise<void> {
  const ids = [...deltas.keys()].filter((id) => deltas.get(id) !== 0).sort();
  if (ids.length === 0) return;
  await t.run('SELECT 1 FROM blobs WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE', [ids]);
  await t.run(
    `UPDATE blobs SET refs = blobs.refs + c.n, released_at = CASE WHEN blobs.refs + c.n <= 0 THEN $3::bigint ELSE NULL END
     FROM unnest($1::text[], $2::bigint[]) AS c(id, n) WHERE blobs.id = c.id`,
    [ids, ids.map((id) => deltas.get(id)!), now],
  );
}

/** Per-blob counts of a list of message rows. */
export function countByBlob(rows: ReadonlyArray<{ blob_id: string }>, sign: 1 | -1): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.blob_id, (counts.get(r.blob_id) ?? 0) + sign);
  return counts;
}
