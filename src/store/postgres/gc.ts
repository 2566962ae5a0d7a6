/**
 * Garbage collection of blobs, and the counts `mailroom status` shows.
 *
 * A blob goes when nothing refers to it: its row has refs = 0 since longer than
 * the grace period AND its bytes were not written again within that period (a
 * put() of the same bytes refreshes their time, so a delivery that is about to
 * reference the blob again keeps it). Bytes with no row at all, older than the
 * grace period, are orphans of a crash between blob write and commit, and go
 * too. The row is deleted only while still unreferenced (re-checked in the
 * DELETE itself), so a node delivering the same blob meanwhile keeps it.
 * Several nodes may collect at once: each removal is idempotent.
 */
import type { IdleDelete } from '../blobs/postgres.js';
import type { Store } from '../types.js';
import type { Ctx } from './db.js';

type GcApi = Pick<Store, 'collectGarbage' | 'stats'>;

export const DEFAULT_GC_GRACE_MS = 3600_000;

export function gcApi(ctx: Ctx): GcApi {
  const { blobs } = ctx;

  /** Deletes the row (and, by cascade, its search entry) if it is still unreferenced since before the cutoff. */
  const dropRow = async (id: string, cutoff: number): Promise<boolean> =>
    (await ctx.run('DELETE FROM blobs WHERE id = $1 AND refs <= 0 AND released_at <= $2', [id, cutoff])) > 0;

  /**
   * Removes the bytes unless they were written at or after the cutoff. The
   * PostgreSQL blob store checks that in the DELETE itself, which closes the
   * window between listing and deleting in which another node re-puts them.
   */
  const dropBytes = async (id: string, cutoff: number): Promise<boolean> => {
    const conditional = blobs as Partial<IdleDelete>;
    if (typeof conditional.deleteIfIdleSince === 'function') return conditional.deleteIfIdleSince(id, new Date(cutoff));
    await blobs.delete(id);
    return true;
  };

  return {
    async collectGarbage(graceMs = DEFAULT_GC_GRACE_MS) {
      const cutoff = ctx.now() - graceMs;
      let removed = 0;
      const oldBytes = new Set<string>();
      for await (const id of blobs.list(new Date(cutoff))) oldBytes.add(id);

      const unreferenced = await ctx.q<{ id: string }>('SELECT id FROM blobs WHERE refs <= 0 AND released_at <= $1', [cutoff]);
      for (const { id } of unreferenced) {
        const exists = oldBytes.has(id) || (await blobs.has(id));
        if (exists && !oldBytes.has(id)) continue; // written again lately: someone may be about to use it
        if (!(await dropRow(id, cutoff))) continue;
        if (exists) await dropBytes(id, cutoff);
        oldBytes.delete(id);
        removed++;
      }

      const ids = [...oldBytes];
      for (let i = 0; i < ids.length; i += 1000) {
        const chunk = ids.slice(i, i + 1000);
        const known = new Set((await ctx.q<{ id: string }>('SELECT id FROM blobs WHERE id = ANY($1::text[])', [chunk])).map((r) => r.id));
        for (const id of chunk) {
          if (known.has(id)) continue;
          if (await dropBytes(id, cutoff)) removed++;
        }
      }
      return { removed };
    },

    async stats() {
      const r = (await ctx.one<{ domains: number; users: number; messages: number; blob_bytes: number; queue: number }>(
        `SELECT (SELECT count(*) FROM domains) AS domains, (SELECT count(*) FROM users) AS users,
           (SELECT coalesce(sum(messages), 0)::bigint FROM mailboxes) AS messages,
           (SELECT coalesce(sum(size), 0)::bigint FROM blobs) AS blob_bytes, (SELECT count(*) FROM queue) AS queue`,
      ))!;
      return { domains: r.domains, users: r.users, messages: r.messages, blobBytes: r.blob_bytes, queue: r.queue };
    },
  };
}
