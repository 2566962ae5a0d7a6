/**
 * Garbage collection of blobs, and the counts `mailroom status` shows.
 *
 * A blob goes when nothing refers to it: its row has refs = 0 since longer than
 * the grace period AND its file was not written again within that period (a
 * put() of the same bytes refreshes the file's time, so a delivery that is
 * about to reference the blob again keeps it). Files with no row at all,
 * older than the grace period, are orphans of a crash between blob write and
 * commit, and go too.
 */
import type { Store } from '../types.js';
import type { Ctx } from './db.js';

type GcApi = Pick<Store, 'collectGarbage' | 'stats'>;

export const DEFAULT_GC_GRACE_MS = 3600_000;

export function gcApi(ctx: Ctx): GcApi {
  const { stmt, write, blobs } = ctx;

  const dropRow = (id: string): boolean =>
    write(() => {
      const row = stmt('SELECT seq, search_state FROM blobs WHERE id = ? AND refs <= 0').get(id) as { seq: number; search_state: number } | undefined;
      if (!row) return false;
      if (row.search_state !== 0) stmt('DELETE FROM blob_search WHERE rowid = ?').run(row.seq);
      stmt('DELETE FROM blob_index WHERE seq = ?').run(row.seq);
      stmt('DELETE FROM blobs WHERE seq = ?').run(row.seq);
      return true;
    });

  return {
    async collectGarbage(graceMs = DEFAULT_GC_GRACE_MS) {
      const cutoff = ctx.now() - graceMs;
      let removed = 0;
      const oldFiles = new Set<string>();
      for await (const id of blobs.list(new Date(cutoff))) oldFiles.add(id);

      const unreferenced = ctx.db.prepare('SELECT id FROM blobs WHERE refs <= 0 AND released_at <= ?').pluck().all(cutoff) as string[];
      for (const id of unreferenced) {
        const fileExists = await blobs.has(id);
        if (fileExists && !oldFiles.has(id)) continue; // written again lately: someone may be about to use it
        if (!dropRow(id)) continue;
        if (fileExists) await blobs.delete(id);
        oldFiles.delete(id);
        removed++;
      }

      const known = ctx.db.prepare('SELECT 1 FROM blobs WHERE id = ?').pluck();
      for (const id of oldFiles) {
        if (known.get(id)) continue;
        await blobs.delete(id);
        removed++;
      }
      return { removed };
    },

    async stats() {
      const one = (sql: string) => (stmt(sql).get() as { n: number | null }).n ?? 0;
      return {
        domains: one('SELECT count(*) AS n FROM domains'),
        users: one('SELECT count(*) AS n FROM users'),
        messages: one('SELECT sum(messages) AS n FROM mailboxes'),
        blobBytes: one('SELECT sum(size) AS n FROM blobs'),
        queue: one('SELECT count(*) AS n FROM queue'),
      };
    },
  };
}
