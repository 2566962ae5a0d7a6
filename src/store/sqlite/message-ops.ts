/**
 * Changing messages already in a mailbox: STORE (with CONDSTORE's
 * UNCHANGEDSINCE), EXPUNGE, COPY, MOVE, and the change log read back by
 * sessions (changesSince). Each call is one transaction and, when it changes
 * anything, takes exactly one new MODSEQ for the mailbox: every message it
 * touched gets that MODSEQ and a change-log row. A call that changes nothing
 * leaves MODSEQ alone.
 */
import { StoreError } from '../errors.js';
import { applyFlags, DELETED, formatFlags, joinKeywords, parseFlags, SEEN, splitKeywords } from '../flags.js';
import type { ChangeKind, CopyResult, FlagUpdate, Store } from '../types.js';
import { jsonList, type Ctx } from './db.js';
import { mailboxRow } from './mailboxes.js';
import { addBlobRefs, usedBytes } from './messages.js';
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

function rowsByUid(ctx: Ctx, mailboxId: number, uids: number[]): FullRow[] {
  if (uids.length === 0) return [];
  return ctx
    .stmt(
      `SELECT uid, modseq, flags, keywords, internal_date, size, blob_id, retrieved_at FROM messages
       WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid`,
    )
    .all(mailboxId, jsonList(uids)) as FullRow[];
}

/** Reference deltas grouped by blob, so a batch costs one UPDATE per distinct blob. */
function releaseBlobs(ctx: Ctx, rows: FullRow[], sign: 1 | -1): void {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.blob_id, (counts.get(r.blob_id) ?? 0) + 1);
  for (const [id, n] of counts) addBlobRefs(ctx, id, sign * n);
}

function expungeRows(ctx: Ctx, mb: MailboxRow, rows: FullRow[]): number {
  if (rows.length === 0) return mb.highest_modseq;
  const modseq = mb.highest_modseq + 1;
  const list = jsonList(rows.map((r) => r.uid));
  ctx.stmt('DELETE FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))').run(mb.id, list);
  ctx.stmt(`DELETE FROM changes WHERE mailbox_id = ? AND kind <> 'expunge' AND uid IN (SELECT value FROM json_each(?))`).run(mb.id, list);
  ctx.stmt(`INSERT INTO changes (mailbox_id, uid, kind, modseq) SELECT ?, value, 'expunge', ? FROM json_each(?)`).run(mb.id, modseq, list);
  releaseBlobs(ctx, rows, -1);
  let size = 0;
  let unseen = 0;
  let deleted = 0;
  for (const r of rows) {
    size += r.size;
    if (!(r.flags & SEEN)) unseen++;
    if (r.flags & DELETED) deleted++;
  }
  ctx
    .stmt('UPDATE mailboxes SET highest_modseq = ?, messages = messages - ?, size = size - ?, unseen = unseen - ?, deleted = deleted - ? WHERE id = ?')
    .run(modseq, rows.length, size, unseen, deleted, mb.id);
  ctx.emit({ mailboxId: mb.id, userId: mb.user_id, highestModseq: modseq, kind: 'expunge' });
  return modseq;
}

function copyRows(ctx: Ctx, rows: FullRow[], dest: MailboxRow, checkQuota: boolean): CopyResult {
  if (rows.length === 0) return { uidValidity: dest.uid_validity, mapping: [] };
  let size = 0;
  let unseen = 0;
  let deleted = 0;
  for (const r of rows) {
    size += r.size;
    if (!(r.flags & SEEN)) unseen++;
    if (r.flags & DELETED) deleted++;
  }
  if (checkQuota) {
    const { quota } = ctx.stmt('SELECT quota FROM users WHERE id = ?').get(dest.user_id) as { quota: number };
    if (quota > 0 && usedBytes(ctx, dest.user_id) + size > quota) throw new StoreError('overQuota', 'the target mailbox is over its quota');
  }
  const modseq = dest.highest_modseq + 1;
  const insert = ctx.stmt(
    `INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id, retrieved_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const log = ctx.stmt(`INSERT INTO changes (mailbox_id, uid, kind, modseq) VALUES (?, ?, 'append', ?)`);
  const mapping: Array<[number, number]> = [];
  let uid = dest.uid_next;
  for (const r of rows) {
    insert.run(dest.id, uid, modseq, r.flags, r.keywords, r.internal_date, r.size, r.blob_id, null);
    log.run(dest.id, uid, modseq);
    mapping.push([r.uid, uid]);
    uid++;
  }
  releaseBlobs(ctx, rows, 1);
  ctx
    .stmt(
      `UPDATE mailboxes SET uid_next = ?, highest_modseq = ?, messages = messages + ?, size = size + ?,
         unseen = unseen + ?, deleted = deleted + ? WHERE id = ?`,
    )
    .run(uid, modseq, rows.length, size, unseen, deleted, dest.id);
  ctx.emit({ mailboxId: dest.id, userId: dest.user_id, highestModseq: modseq, kind: 'append' });
  return { uidValidity: dest.uid_validity, mapping };
}

function checkUids(uids: number[]): void {
  for (const u of uids) if (!Number.isSafeInteger(u) || u < 1) throw new StoreError('invalid', `not a UID: ${u}`);
}

export function messageOpsApi(ctx: Ctx): MessageOpsApi {
  const { stmt, write } = ctx;

  return {
    async storeFlags(mailboxId, uids, op, flags, opts = {}) {
      checkUids(uids);
      const change = parseFlags(flags);
      const since = opts.unchangedSince;
      return write(() => {
        const mb = mailboxRow(ctx, mailboxId);
        const rows = rowsByUid(ctx, mailboxId, uids);
        const modseq = mb.highest_modseq + 1;
        const updated: FlagUpdate[] = [];
        const modified: number[] = [];
        let unseen = 0;
        let deleted = 0;
        // Messages that end with the same flags are written by one statement:
        // a STORE on 10,000 messages usually has a handful of distinct outcomes.
        const groups = new Map<string, { bits: number; keywords: string; uids: number[] }>();
        const cache = new Map<string, { bits: number; keywords: string }>();
        for (const r of rows) {
          if (since !== undefined && r.modseq > since) {
            modified.push(r.uid);
            continue;
          }
          const before = `${r.flags} ${r.keywords}`;
          let next = cache.get(before);
          if (!next) {
            const n = applyFlags({ bits: r.flags, keywords: splitKeywords(r.keywords) }, op, change);
            next = { bits: n.bits, keywords: joinKeywords(n.keywords) };
            cache.set(before, next);
          }
          if (next.bits === r.flags && next.keywords === r.keywords) continue;
          const key = `${next.bits} ${next.keywords}`;
          let g = groups.get(key);
          if (!g) groups.set(key, (g = { ...next, uids: [] }));
          g.uids.push(r.uid);
          unseen += (r.flags & SEEN ? 0 : 1) - (next.bits & SEEN ? 0 : 1);
          deleted += (next.bits & DELETED ? 1 : 0) - (r.flags & DELETED ? 1 : 0);
          updated.push({ uid: r.uid, flags: formatFlags(next.bits, next.keywords), modseq });
        }
        for (const g of groups.values()) {
          const list = jsonList(g.uids);
          stmt('UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))').run(
            g.bits,
            g.keywords,
            modseq,
            mailboxId,
            list,
          );
          stmt(
            `INSERT INTO changes (mailbox_id, uid, kind, modseq) SELECT ?, value, 'flags', ? FROM json_each(?) WHERE true
             ON CONFLICT (mailbox_id, uid, kind) DO UPDATE SET modseq = excluded.modseq`,
          ).run(mailboxId, modseq, list);
        }
        if (updated.length > 0) {
          stmt('UPDATE mailboxes SET highest_modseq = ?, unseen = unseen + ?, deleted = deleted + ? WHERE id = ?').run(modseq, -unseen, deleted, mailboxId);
          ctx.emit({ mailboxId, userId: mb.user_id, highestModseq: modseq, kind: 'flags' });
        }
        return { updated, modified };
      });
    },

    async expunge(mailboxId, uids) {
      if (uids) checkUids(uids);
      return write(() => {
        const mb = mailboxRow(ctx, mailboxId);
        const rows = uids
          ? rowsByUid(ctx, mailboxId, uids)
          : (stmt(
              `SELECT uid, modseq, flags, keywords, internal_date, size, blob_id, retrieved_at FROM messages
               WHERE mailbox_id = ? AND flags & ${DELETED} ORDER BY uid`,
            ).all(mailboxId) as FullRow[]);
        const modseq = expungeRows(ctx, mb, rows);
        return { uids: rows.map((r) => r.uid), modseq };
      });
    },

    async copy(mailboxId, uids, destMailboxId) {
      checkUids(uids);
      return write(() => {
        mailboxRow(ctx, mailboxId);
        const dest = mailboxRow(ctx, destMailboxId);
        return copyRows(ctx, rowsByUid(ctx, mailboxId, uids), dest, true);
      });
    },

    async move(mailboxId, uids, destMailboxId) {
      checkUids(uids);
      return write(() => {
        const src = mailboxRow(ctx, mailboxId);
        const dest = mailboxRow(ctx, destMailboxId);
        const rows = rowsByUid(ctx, mailboxId, uids);
        // Moving between one user's mailboxes does not change their usage.
        const result = copyRows(ctx, rows, dest, src.user_id !== dest.user_id);
        const expungeModseq = expungeRows(ctx, mailboxRow(ctx, mailboxId), rows);
        return { ...result, expungeModseq };
      });
    },

    async changesSince(mailboxId, sinceModseq) {
      mailboxRow(ctx, mailboxId);
      const rows = stmt('SELECT modseq, uid, kind FROM changes WHERE mailbox_id = ? AND modseq > ? ORDER BY modseq, uid').all(mailboxId, sinceModseq) as Array<{
        modseq: number;
        uid: number;
        kind: ChangeKind;
      }>;
      return rows;
    },

    async markRetrieved(mailboxId, uids, at = new Date()) {
      checkUids(uids);
      if (uids.length === 0) return;
      write(() => {
        stmt('UPDATE messages SET retrieved_at = coalesce(retrieved_at, ?) WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))').run(
          at.getTime(),
          mailboxId,
          jsonList(uids),
        );
      });
    },

    async listRetrievedBefore(mailboxId, before) {
      const rows = stmt('SELECT uid FROM messages WHERE mailbox_id = ? AND retrieved_at IS NOT NULL AND retrieved_at < ? ORDER BY uid').all(
        mailboxId,
        before.getTime(),
      ) as Array<{ uid: number }>;
      return rows.map((r) => r.uid);
    },
  };
}
