/**
 * The outbound queue: one entry per accepted message with a per-recipient
 * state (queued → deferred* → delivered | bounced).
 *
 * Rules: claimQueue picks entries that have due recipients, are not held and
 * whose lease is free or expired, with `FOR UPDATE SKIP LOCKED`: a node never
 * waits for, nor takes, an entry another node is claiming at that moment, and
 * READ COMMITTED re-checks the lease condition on the latest row version, so
 * an entry leased by a claim that committed meanwhile is not taken twice. The
 * lease is written in the same transaction. recordAttempt always records what
 * happened (even after the lease expired: a delivery that happened must not
 * be forgotten) and clears the lease if the caller held it. An entry holds
 * one reference on its blob until deleteQueueEntry.
 */
import { StoreError } from '../errors.js';
import { newQueueId, RECIPIENT_STATES, toRecipient, type RecipientRow } from '../queue-rows.js';
import type { QueueClaim, QueueEntry, Store } from '../types.js';
import { adjustBlobRefs, refBlob } from './blob-refs.js';
import type { Ctx, Queryable } from './db.js';
import { dateOrNull } from './rows.js';

type QueueApi = Pick<
  Store,
  | 'enqueue'
  | 'getQueueEntry'
  | 'listQueue'
  | 'claimQueue'
  | 'recordAttempt'
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
  held: boolean;
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
  held: e.held,
  warnedAt: dateOrNull(e.warned_at),
  dsnRet: e.dsn_ret,
  dsnEnvid: e.dsn_envid,
  recipients: recipients.map(toRecipient),
  source: e.source,
});

async function entries(q: Queryable, rows: EntryRow[]): Promise<QueueEntry[]> {
  if (rows.length === 0) return [];
  const recips = await q.q<RecipientRow>('SELECT * FROM queue_recipients WHERE entry_id = ANY($1::text[]) ORDER BY id', [rows.map((r) => r.id)]);
  const byEntry = new Map<string, RecipientRow[]>();
  for (const r of recips) {
    let list = byEntry.get(r.entry_id);
    if (!list) byEntry.set(r.entry_id, (list = []));
    list.push(r);
  }
  return rows.map((e) => toEntry(e, byEntry.get(e.id) ?? []));
}

const entryRow = (q: Queryable, id: string) => q.one<EntryRow>('SELECT * FROM queue WHERE id = $1', [id]);

export function queueApi(ctx: Ctx): QueueApi {
  const { tx } = ctx;

  return {
    async enqueue(input) {
      if (input.recipients.length === 0) throw new StoreError('invalid', 'a queue entry needs at least one recipient');
      if (!/^[0-9a-f]{64}$/.test(input.blob.id)) throw new StoreError('invalid', 'not a blob reference');
      return tx(async (t) => {
        const now = ctx.now();
        let id = newQueueId();
        while (await entryRow(t, id)) id = newQueueId();
        await refBlob(t, now, input.blob, null, 1);
        await t.run(
          `INSERT INTO queue (id, sender, blob_id, blob_size, source, held, dsn_ret, dsn_envid, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [id, input.sender, input.blob.id, input.blob.size, input.source, input.held ?? false, input.dsnRet ?? null, input.dsnEnvid ?? null, now],
        );
        await t.run(
          `INSERT INTO queue_recipients (entry_id, address, state, next_attempt_at, updated_at, dsn_notify, dsn_orcpt)
           SELECT $1, a, 'queued', $2, $2, n, o FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS v(a, n, o, i) ORDER BY i`,
          [id, now, input.recipients.map((r) => r.address), input.recipients.map((r) => r.dsnNotify ?? null), input.recipients.map((r) => r.dsnOrcpt ?? null)],
        );
        return (await entries(t, [(await entryRow(t, id))!]))[0]!;
      });
    },

    async getQueueEntry(id) {
      const row = await entryRow(ctx, id);
      return row ? (await entries(ctx, [row]))[0]! : null;
    },

    async listQueue(opts = {}) {
      const limit = opts.limit === undefined || opts.limit < 0 ? null : opts.limit;
      let rows: EntryRow[];
      if (opts.state === undefined) {
        rows = await ctx.q<EntryRow>('SELECT * FROM queue ORDER BY created_at, id COLLATE "C" LIMIT $1', [limit]);
      } else {
        const states = opts.state === 'active' ? ['queued', 'deferred'] : [opts.state];
        rows = await ctx.q<EntryRow>(
          `SELECT * FROM queue q WHERE EXISTS (SELECT 1 FROM queue_recipients r WHERE r.entry_id = q.id AND r.state = ANY($1::text[]))
           ORDER BY created_at, id COLLATE "C" LIMIT $2`,
          [states, limit],
        );
      }
      return entries(ctx, rows);
    },

    async claimQueue(owner, now, limit, leaseMs) {
      const t0 = now.getTime();
      return tx(async (t) => {
        const due = await t.q<{ id: string }>(
          `SELECT q.id FROM queue q
           CROSS JOIN LATERAL (SELECT min(r.next_attempt_at) AS due FROM queue_recipients r
             WHERE r.entry_id = q.id AND r.state IN ('queued', 'deferred') AND r.next_attempt_at <= $1) d
           WHERE d.due IS NOT NULL AND NOT q.held AND (q.lease_until IS NULL OR q.lease_until <= $1)
           ORDER BY d.due, q.id COLLATE "C" LIMIT $2
           FOR UPDATE OF q SKIP LOCKED`,
          [t0, Math.max(0, Math.floor(limit))],
        );
        if (due.length === 0) return [];
        const leaseUntil = t0 + leaseMs;
        const ids = due.map((d) => d.id);
        await t.run('UPDATE queue SET lease_owner = $1, lease_until = $2 WHERE id = ANY($3::text[])', [owner, leaseUntil, ids]);
        const rows = await t.q<EntryRow>('SELECT * FROM queue WHERE id = ANY($1::text[])', [ids]);
        const byId = new Map((await entries(t, rows)).map((e) => [e.id, e]));
        return ids.map((id): QueueClaim => {
          const entry = byId.get(id)!;
          const recipients = entry.recipients.filter((r) => (r.state === 'queued' || r.state === 'deferred') && r.nextAttemptAt.getTime() <= t0);
          return { entry, recipients, leaseUntil: new Date(leaseUntil) };
        });
      });
    },

    async recordAttempt(entryId, owner, results) {
      for (const r of results) if (!RECIPIENT_STATES.has(r.state)) throw new StoreError('invalid', `not a recipient state: ${r.state}`);
      await tx(async (t) => {
        if (!(await t.one('SELECT 1 FROM queue WHERE id = $1 FOR UPDATE', [entryId]))) throw new StoreError('notFound', `no queue entry ${entryId}`);
        const now = ctx.now();
        for (const r of results) {
          const n = await t.run(
            `UPDATE queue_recipients SET state = $1, attempts = attempts + 1, last_reply = $2, last_host = $3,
               next_attempt_at = coalesce($4, next_attempt_at), updated_at = $5
             WHERE id = $6 AND entry_id = $7`,
            [r.state, r.reply, r.host, r.nextAttemptAt?.getTime() ?? null, now, Number.isSafeInteger(r.recipientId) ? r.recipientId : -1, entryId],
          );
          if (n === 0) throw new StoreError('notFound', `queue entry ${entryId} has no recipient ${r.recipientId}`);
        }
        await t.run('UPDATE queue SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2', [entryId, owner]);
      });
    },

    async releaseClaim(entryId, owner) {
      await ctx.run('UPDATE queue SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2', [entryId, owner]);
    },

    async setQueueHeld(entryId, held) {
      if (entryId === 'all') return ctx.run('UPDATE queue SET held = $1 WHERE held <> $1', [held]);
      return tx(async (t) => {
        if (!(await entryRow(t, entryId))) throw new StoreError('notFound', `no queue entry ${entryId}`);
        return t.run('UPDATE queue SET held = $1 WHERE id = $2 AND held <> $1', [held, entryId]);
      });
    },

    async rescheduleQueue(entryId, at) {
      if (entryId === 'all') return ctx.run(`UPDATE queue_recipients SET next_attempt_at = $1 WHERE state IN ('queued', 'deferred')`, [at.getTime()]);
      return tx(async (t) => {
        if (!(await entryRow(t, entryId))) throw new StoreError('notFound', `no queue entry ${entryId}`);
        return t.run(`UPDATE queue_recipients SET next_attempt_at = $1 WHERE entry_id = $2 AND state IN ('queued', 'deferred')`, [at.getTime(), entryId]);
      });
    },

    async markWarned(entryId, at) {
      if ((await ctx.run('UPDATE queue SET warned_at = $1 WHERE id = $2', [at.getTime(), entryId])) === 0) {
        throw new StoreError('notFound', `no queue entry ${entryId}`);
      }
    },

    async deleteQueueEntry(entryId) {
      await tx(async (t) => {
        const row = await t.one<{ blob_id: string }>('DELETE FROM queue WHERE id = $1 RETURNING blob_id', [entryId]);
        if (!row) throw new StoreError('notFound', `no queue entry ${entryId}`);
        await adjustBlobRefs(t, ctx.now(), new Map([[row.blob_id, -1]]));
      });
    },
  };
}
