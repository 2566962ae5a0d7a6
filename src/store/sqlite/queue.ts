/**
 * The outbound queue: one entry per accepted message with a per-recipient
 * state (queued → deferred* → delivered | bounced).
 *
 * Rules: claimQueue takes entries that have due recipients, are not held and
 * whose lease is free or expired, and leases them to one owner in the same
 * IMMEDIATE transaction, so two workers never claim one entry. recordAttempt
 * always records what happened (even after the lease expired: a delivery that
 * happened must not be forgotten) and clears the lease if the caller held it.
 * An entry holds one reference on its blob until deleteQueueEntry.
 */
import { StoreError } from '../errors.js';
import { newQueueId, RECIPIENT_STATES, toRecipient, type RecipientRow } from '../queue-rows.js';
import type { QueueClaim, QueueEntry, RecipientResult, Store } from '../types.js';
import { jsonList, type Ctx } from './db.js';
import { addBlobRefs, ensureBlob } from './messages.js';
import { dateOrNull } from './rows.js';

type QueueApi = Pick<
  Store,
  | 'enqueue'
  | 'getQueueEntry'
  | 'listQueue'
  | 'claimQueue'
  | 'recordAttempt'
  | 'recordAttempts'
  | 'releaseClaim'
  | 'setQueueHeld'
  | 'rescheduleQueue'
  | 'markWarned'
  | 'deleteQueueEntry'
>;

interface EntryRow {
  id: string;
  sender: string;
  blob_id: string;
  blob_size: number;
  source: string;
  held: number;
  warned_at: number | null;
  dsn_ret: 'FULL' | 'HDRS' | null;
  dsn_envid: string | null;
  lease_owner: string | null;
  lease_until: number | null;
  created_at: number;
}

const toEntry = (e: EntryRow, recipients: RecipientRow[]): QueueEntry => ({
  id: e.id,
  sender: e.sender,
  blob: { id: e.blob_id, size: e.blob_size },
  createdAt: new Date(e.created_at),
  held: e.held === 1,
  warnedAt: dateOrNull(e.warned_at),
  dsnRet: e.dsn_ret,
  dsnEnvid: e.dsn_envid,
  recipients: recipients.map(toRecipient),
  source: e.source,
});

export function queueApi(ctx: Ctx): QueueApi {
  const { stmt, write } = ctx;

  const entries = (rows: EntryRow[]): QueueEntry[] => {
    if (rows.length === 0) return [];
    const recips = stmt('SELECT * FROM queue_recipients WHERE entry_id IN (SELECT value FROM json_each(?)) ORDER BY id').all(
      jsonList(rows.map((r) => r.id)),
    ) as RecipientRow[];
    const byEntry = new Map<string, RecipientRow[]>();
    for (const r of recips) {
      let list = byEntry.get(r.entry_id);
      if (!list) byEntry.set(r.entry_id, (list = []));
      list.push(r);
    }
    return rows.map((e) => toEntry(e, byEntry.get(e.id) ?? []));
  };

  const entryRow = (id: string): EntryRow | undefined => stmt('SELECT * FROM queue WHERE id = ?').get(id) as EntryRow | undefined;

  const checkStates = (results: RecipientResult[]) => {
    for (const r of results) if (!RECIPIENT_STATES.has(r.state)) throw new StoreError('invalid', `not a recipient state: ${r.state}`);
  };

  /** recordAttempt's work, inside a write. */
  const recordNow = (entryId: string, owner: string, results: RecipientResult[]) => {
    if (!entryRow(entryId)) throw new StoreError('notFound', `no queue entry ${entryId}`);
    const now = ctx.now();
    const update = stmt(
      `UPDATE queue_recipients SET state = ?, attempts = attempts + 1, last_reply = ?, last_host = ?,
         next_attempt_at = coalesce(?, next_attempt_at), updated_at = ?
       WHERE id = ? AND entry_id = ?`,
    );
    for (const r of results) {
      const res = update.run(r.state, r.reply, r.host, r.nextAttemptAt?.getTime() ?? null, now, r.recipientId, entryId);
      if (res.changes === 0) throw new StoreError('notFound', `queue entry ${entryId} has no recipient ${r.recipientId}`);
    }
    stmt('UPDATE queue SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?').run(entryId, owner);
  };

  return {
    async enqueue(input) {
      if (input.recipients.length === 0) throw new StoreError('invalid', 'a queue entry needs at least one recipient');
      if (!/^[0-9a-f]{64}$/.test(input.blob.id)) throw new StoreError('invalid', 'not a blob reference');
      return write(() => {
        const now = ctx.now();
        let id = newQueueId();
        while (entryRow(id)) id = newQueueId();
        ensureBlob(ctx, input.blob, null);
        addBlobRefs(ctx, input.blob.id, 1);
        stmt(
          `INSERT INTO queue (id, sender, blob_id, blob_size, source, held, dsn_ret, dsn_envid, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(id, input.sender, input.blob.id, input.blob.size, input.source, input.held ? 1 : 0, input.dsnRet ?? null, input.dsnEnvid ?? null, now);
        const add = stmt(
          `INSERT INTO queue_recipients (entry_id, address, state, next_attempt_at, updated_at, dsn_notify, dsn_orcpt)
           VALUES (?, ?, 'queued', ?, ?, ?, ?)`,
        );
        for (const r of input.recipients) add.run(id, r.address, now, now, r.dsnNotify ?? null, r.dsnOrcpt ?? null);
        return entries([entryRow(id)!])[0]!;
      });
    },

    async getQueueEntry(id) {
      const row = entryRow(id);
      return row ? entries([row])[0]! : null;
    },

    async listQueue(opts = {}) {
      const limit = opts.limit ?? -1;
      let rows: EntryRow[];
      if (opts.state === undefined) {
        rows = stmt('SELECT * FROM queue ORDER BY created_at, id LIMIT ?').all(limit) as EntryRow[];
      } else {
        const states = opts.state === 'active' ? ['queued', 'deferred'] : [opts.state];
        rows = stmt(
          `SELECT * FROM queue q WHERE EXISTS (SELECT 1 FROM queue_recipients r
             WHERE r.entry_id = q.id AND r.state IN (SELECT value FROM json_each(?)))
           ORDER BY created_at, id LIMIT ?`,
        ).all(JSON.stringify(states), limit) as EntryRow[];
      }
      return entries(rows);
    },

    async claimQueue(owner, now, limit, leaseMs) {
      const t = now.getTime();
      return write(() => {
        const due = stmt(
          `SELECT r.entry_id AS id, min(r.next_attempt_at) AS due FROM queue_recipients r JOIN queue q ON q.id = r.entry_id
           WHERE r.state IN ('queued', 'deferred') AND r.next_attempt_at <= ? AND q.held = 0
             AND (q.lease_until IS NULL OR q.lease_until <= ?)
           GROUP BY r.entry_id ORDER BY due, r.entry_id LIMIT ?`,
        ).all(t, t, limit) as Array<{ id: string }>;
        const leaseUntil = t + leaseMs;
        const claims: QueueClaim[] = [];
        for (const { id } of due) {
          stmt('UPDATE queue SET lease_owner = ?, lease_until = ? WHERE id = ?').run(owner, leaseUntil, id);
          const [entry] = entries([entryRow(id)!]);
          const recipients = entry!.recipients.filter((r) => (r.state === 'queued' || r.state === 'deferred') && r.nextAttemptAt.getTime() <= t);
          claims.push({ entry: entry!, recipients, leaseUntil: new Date(leaseUntil) });
        }
        return claims;
      });
    },

    async recordAttempt(entryId, owner, results) {
      checkStates(results);
      write(() => recordNow(entryId, owner, results));
    },

    async recordAttempts(owner, batch) {
      for (const b of batch) checkStates(b.results);
      // One transaction for the whole batch: one commit, all or nothing.
      write(() => {
        for (const b of batch) recordNow(b.entryId, owner, b.results);
      });
    },

    async releaseClaim(entryId, owner) {
      write(() => {
        stmt('UPDATE queue SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?').run(entryId, owner);
      });
    },

    async setQueueHeld(entryId, held) {
      return write(() => {
        if (entryId === 'all') return stmt('UPDATE queue SET held = ? WHERE held <> ?').run(held ? 1 : 0, held ? 1 : 0).changes;
        if (!entryRow(entryId)) throw new StoreError('notFound', `no queue entry ${entryId}`);
        return stmt('UPDATE queue SET held = ? WHERE id = ? AND held <> ?').run(held ? 1 : 0, entryId, held ? 1 : 0).changes;
      });
    },

    async rescheduleQueue(entryId, at) {
      return write(() => {
        if (entryId === 'all') {
          return stmt(`UPDATE queue_recipients SET next_attempt_at = ? WHERE state IN ('queued', 'deferred')`).run(at.getTime()).changes;
        }
        if (!entryRow(entryId)) throw new StoreError('notFound', `no queue entry ${entryId}`);
        return stmt(`UPDATE queue_recipients SET next_attempt_at = ? WHERE entry_id = ? AND state IN ('queued', 'deferred')`).run(at.getTime(), entryId)
          .changes;
      });
    },

    async markWarned(entryId, at) {
      write(() => {
        if (stmt('UPDATE queue SET warned_at = ? WHERE id = ?').run(at.getTime(), entryId).changes === 0) {
          throw new StoreError('notFound', `no queue entry ${entryId}`);
        }
      });
    },

    async deleteQueueEntry(entryId) {
      write(() => {
        const row = entryRow(entryId);
        if (!row) throw new StoreError('notFound', `no queue entry ${entryId}`);
        stmt('DELETE FROM queue WHERE id = ?').run(entryId);
        addBlobRefs(ctx, row.blob_id, -1);
      });
    },
  };
}
