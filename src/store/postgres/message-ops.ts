/**
 * Changing messages already in a mailbox: STORE (with CONDSTORE's
 * UNCHANGEDSINCE), EXPUNGE, COPY, MOVE, and the change log read back by
 * sessions (changesSince). Each call is one transaction and, when it changes
 * anything, takes exactly one new MODSEQ for the mailbox: every message it
 * touched gets that MODSEQ and a change-log row. A call that changes nothing
 * leaves MODSEQ alone.
 *
 * Every call first locks the mailbox rows it changes (in id order, after the
 * destination user's row when quota is checked), so the MODSEQ it computes
 * from highest_modseq cannot be taken by another node meanwhile. Batches are
 * single statements over arrays (unnest), not one round trip per message.
 */
import { StoreError } from '../errors.js';
import { applyFlags, DELETED, formatFlags, joinKeywords, parseFlags, SEEN, splitKeywords } from '../flags.js';
import type { ChangeKind, CopyResult, FlagUpdate, Store } from '../types.js';
import { adjustBlobRefs, countByBlob } from './blob-refs.js';
import type { Ctx, Tx } from './db.js';
import { lockMailbox, lockMailboxes, mailboxRow, validId } from './mailboxes.js';
import { lockUsers, usedBytes } from './messages.js';
import type { MailboxRow } from './rows.js';

type MessageOpsApi = Pick<Store, 'storeFlags' | 'expunge' | 'copy' | 'move' | 'changesSince' | 'markRetrieved' | 'listRetrievedBefore'>;

interface FullRow {
  uid: number;
  modseq: number;
  flags: number;
  keywords: string;
  internal_date: number;
  size: number;
  blob_id: string;
  retrieved_at: number | null;
}

const FULL_COLUMNS = 'uid, modseq, flags, keywords, internal_date, size, blob_id, retrieved_at';

async function rowsByUid(t: Tx, mailboxId: number, uids: number[]): Promise<FullRow[]> {
  if (uids.length === 0) return [];
  return t.q<FullRow>(`SELECT ${FULL_COLUMNS} FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid`, [mailboxId, uids]);
}

function tally(rows: FullRow[]): { size: number; unseen: number; deleted: number } {
  let size = 0;
  let unseen = 0;
  let deleted = 0;
  for (const r of rows) {
    size += r.size;
    if (!(r.flags & SEEN)) unseen++;
    if (r.flags & DELETED) deleted++;
  }
  return { size, unseen, deleted };
}

async function expungeRows(t: Tx, now: number, mb: MailboxRow, rows: FullRow[]): Promise<number> {
  if (rows.length === 0) return mb.highest_modseq;
  const modseq = mb.highest_modseq + 1;
  const uids = rows.map((r) => r.uid);
  await t.run('DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])', [mb.id, uids]);
  await t.run(`DELETE FROM changes WHERE mailbox_id = $1 AND kind <> 'expunge' AND uid = ANY($2::bigint[])`, [mb.id, uids]);
  await t.run(
    `INSERT INTO changes (mailbox_id, uid, kind, modseq) SELECT $1, u, 'expunge', $2 FROM unnest($3::bigint[]) AS u
     ON CONFLICT (mailbox_id, uid, kind) DO UPDATE SET modseq = EXCLUDED.modseq`,
    [mb.id, modseq, uids],
  );
  const { size, unseen, deleted } = tally(rows);
  await t.run('UPDATE mailboxes SET highest_modseq = $1, messages = messages - $2, size = size - $3, unseen = unseen - $4, deleted = deleted - $5 WHERE id = $6', [
    modseq,
    rows.length,
    size,
    unseen,
    deleted,
    mb.id,
  ]);
  await adjustBlobRefs(t, now, countByBlob(rows, -1));
  t.emit({ mailboxId: mb.id, userId: mb.user_id, highestModseq: modseq, kind: 'expunge' });
  return modseq;
}

/** Copies rows into a locked destination; the caller checked quota. */
async function copyRows(t: Tx, now: number, rows: FullRow[], dest: MailboxRow): Promise<CopyResult> {
  if (rows.length === 0) return { uidValidity: dest.uid_validity, mapping: [] };
  const modseq = dest.highest_modseq + 1;
  const mapping: Array<[number, number]> = rows.map((r, i) => [r.uid, dest.uid_next + i]);
  const newUids = mapping.map((m) => m[1]);
  await t.run(
    `INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id)
     SELECT $1, uid, $2, flags, keywords, internal_date, size, blob_id
     FROM unnest($3::bigint[], $4::int[], $5::text[], $6::bigint[], $7::bigint[], $8::text[]) AS v(uid, flags, keywords, internal_date, size, blob_id)`,
    [
      dest.id,
      modseq,
      newUids,
      rows.map((r) => r.flags),
      rows.map((r) => r.keywords),
      rows.map((r) => r.internal_date),
      rows.map((r) => r.size),
      rows.map((r) => r.blob_id),
    ],
  );
  await t.run(`INSERT INTO changes (mailbox_id, uid, kind, modseq) SELECT $1, u, 'append', $2 FROM unnest($3::bigint[]) AS u`, [dest.id, modseq, newUids]);
  const { size, unseen, deleted } = tally(rows);
  await t.run(
    `UPDATE mailboxes SET uid_next = $1, highest_modseq = $2, messages = messages + $3, size = size + $4,
       unseen = unseen + $5, deleted = deleted + $6 WHERE id = $7`,
    [dest.uid_next + rows.length, modseq, rows.length, size, unseen, deleted, dest.id],
  );
  await adjustBlobRefs(t, now, countByBlob(rows, 1));
  t.emit({ mailboxId: dest.id, userId: dest.user_id, highestModseq: modseq, kind: 'append' });
  return { uidValidity: dest.uid_validity, mapping };
}

function checkUids(uids: number[]): void {
  for (const u of uids) if (!Number.isSafeInteger(u) || u < 1) throw new StoreError('invalid', `not a UID: ${u}`);
}

export function messageOpsApi(ctx: Ctx): MessageOpsApi {
  const { tx } = ctx;

  /**
   * Locks what a copy or move changes, in the global order: the destination
   * user when quota must be checked, then both mailboxes by id.
   */
  const lockForCopy = async (t: Tx, srcId: number, destId: number, quotaIfOtherUser: boolean) => {
    const srcPeek = await mailboxRow(t, srcId);
    const destPeek = await mailboxRow(t, destId);
    const checkQuota = quotaIfOtherUser ? srcPeek.user_id !== destPeek.user_id : true;
    const users = checkQuota ? await lockUsers(t, [destPeek.user_id]) : new Map<number, { quota: number }>();
    const boxes = await lockMailboxes(t, [srcId, destId]);
    const src = boxes.get(srcId);
    const dest = boxes.get(destId);
    if (!src) throw new StoreError('notFound', `no mailbox with id ${srcId}`);
    if (!dest) throw new StoreError('notFound', `no mailbox with id ${destId}`);
    return { src, dest, quota: checkQuota ? (users.get(dest.user_id)?.quota ?? 0) : 0 };
  };

  const assertQuota = async (t: Tx, dest: MailboxRow, quota: number, rows: FullRow[]) => {
    if (quota <= 0 || rows.length === 0) return;
    const add = rows.reduce((n, r) => n + r.size, 0);
    if ((await usedBytes(t, dest.user_id)) + add > quota) throw new StoreError('overQuota', 'the target mailbox is over its quota');
  };

  return {
    async storeFlags(mailboxId, uids, op, flags, opts = {}) {
      checkUids(uids);
      const change = parseFlags(flags);
      const since = opts.unchangedSince;
      return tx(async (t) => {
        const mb = await lockMailbox(t, mailboxId);
        const rows = await rowsByUid(t, mailboxId, uids);
        const modseq = mb.highest_modseq + 1;
        const updated: FlagUpdate[] = [];
        const modified: number[] = [];
        const changed: Array<{ uid: number; bits: number; keywords: string }> = [];
        let unseen = 0;
        let deleted = 0;
        for (const r of rows) {
          if (since !== undefined && r.modseq > since) {
            modified.push(r.uid);
            continue;
          }
          const next = applyFlags({ bits: r.flags, keywords: splitKeywords(r.keywords) }, op, change);
          const keywords = joinKeywords(next.keywords);
          if (next.bits === r.flags && keywords === r.keywords) continue;
          changed.push({ uid: r.uid, bits: next.bits, keywords });
          unseen += (r.flags & SEEN ? 0 : 1) - (next.bits & SEEN ? 0 : 1);
          deleted += (next.bits & DELETED ? 1 : 0) - (r.flags & DELETED ? 1 : 0);
          updated.push({ uid: r.uid, flags: formatFlags(next.bits, keywords), modseq });
        }
        if (changed.length > 0) {
          const cUids = changed.map((c) => c.uid);
          await t.run(
            `UPDATE messages SET flags = v.flags, keywords = v.keywords, modseq = $2
             FROM unnest($3::bigint[], $4::int[], $5::text[]) AS v(uid, flags, keywords)
             WHERE messages.mailbox_id = $1 AND messages.uid = v.uid`,
            [mailboxId, modseq, cUids, changed.map((c) => c.bits), changed.map((c) => c.keywords)],
          );
          await t.run(
            `INSERT INTO changes (mailbox_id, uid, kind, modseq) SELECT $1, u, 'flags', $2 FROM unnest($3::bigint[]) AS u
             ON CONFLICT (mailbox_id, uid, kind) DO UPDATE SET modseq = EXCLUDED.modseq`,
            [mailboxId, modseq, cUids],
          );
          await t.run('UPDATE mailboxes SET highest_modseq = $1, unseen = unseen + $2, deleted = deleted + $3 WHERE id = $4', [modseq, -unseen, deleted, mailboxId]);
          t.emit({ mailboxId, userId: mb.user_id, highestModseq: modseq, kind: 'flags' });
        }
        return { updated, modified };
      });
    },

    async expunge(mailboxId, uids) {
      if (uids) checkUids(uids);
      return tx(async (t) => {
        const mb = await lockMailbox(t, mailboxId);
        const rows = uids
          ? await rowsByUid(t, mailboxId, uids)
          : await t.q<FullRow>(`SELECT ${FULL_COLUMNS} FROM messages WHERE mailbox_id = $1 AND flags & ${DELETED} <> 0 ORDER BY uid`, [mailboxId]);
        const modseq = await expungeRows(t, ctx.now(), mb, rows);
        return { uids: rows.map((r) => r.uid), modseq };
      });
    },

    async copy(mailboxId, uids, destMailboxId) {
      checkUids(uids);
      return tx(async (t) => {
        const { dest, quota } = await lockForCopy(t, mailboxId, destMailboxId, false);
        const rows = await rowsByUid(t, mailboxId, uids);
        await assertQuota(t, dest, quota, rows);
        return copyRows(t, ctx.now(), rows, dest);
      });
    },

    async move(mailboxId, uids, destMailboxId) {
      checkUids(uids);
      return tx(async (t) => {
        // Moving between one user's mailboxes does not change their usage.
        const { src, dest, quota } = await lockForCopy(t, mailboxId, destMailboxId, true);
        const rows = await rowsByUid(t, mailboxId, uids);
        await assertQuota(t, dest, quota, rows);
        const result = await copyRows(t, ctx.now(), rows, dest);
        // Moving into the same mailbox: the copy moved its counters; read them again.
        const source = src.id === dest.id ? await mailboxRow(t, src.id) : src;
        const expungeModseq = await expungeRows(t, ctx.now(), source, rows);
        return { ...result, expungeModseq };
      });
    },

    async changesSince(mailboxId, sinceModseq) {
      await mailboxRow(ctx, mailboxId);
      return ctx.q<{ modseq: number; uid: number; kind: ChangeKind }>(
        'SELECT modseq, uid, kind FROM changes WHERE mailbox_id = $1 AND modseq > $2 ORDER BY modseq, uid',
        [mailboxId, Number.isFinite(sinceModseq) ? Math.max(0, Math.floor(sinceModseq)) : 0],
      );
    },

    async markRetrieved(mailboxId, uids, at = new Date()) {
      checkUids(uids);
      if (uids.length === 0 || !validId(mailboxId)) return;
      await ctx.run('UPDATE messages SET retrieved_at = coalesce(retrieved_at, $1) WHERE mailbox_id = $2 AND uid = ANY($3::bigint[])', [
        at.getTime(),
        mailboxId,
        uids,
      ]);
    },

    async listRetrievedBefore(mailboxId, before) {
      if (!validId(mailboxId)) return [];
      const rows = await ctx.q<{ uid: number }>('SELECT uid FROM messages WHERE mailbox_id = $1 AND retrieved_at IS NOT NULL AND retrieved_at < $2 ORDER BY uid', [
        mailboxId,
        before.getTime(),
      ]);
      return rows.map((r) => r.uid);
    },
  };
}
