/**
 * Mailboxes, subscriptions, STATUS and quota.
 *
 * UIDVALIDITY comes from one server-wide counter that never goes back (at
 * least the current time in seconds), so a mailbox deleted and created again
 * under the same name never repeats one (RFC 3501 2.3.1.1). The counter is an
 * upsert on one row: nodes creating mailboxes at once queue on its row lock.
 *
 * Writers that change a mailbox's messages or counters first lock its row
 * (lockMailbox, FOR NO KEY UPDATE): that row lock is what makes UID and
 * MODSEQ allocation safe across nodes.
 */
import { StoreError } from '../errors.js';
import { normalizeMailboxName, SEPARATOR } from '../names.js';
import type { SpecialUse, Store } from '../types.js';
import { adjustBlobRefs } from './blob-refs.js';
import type { Ctx, Queryable, Tx } from './db.js';
import { toMailbox, type MailboxRow } from './rows.js';

type MailboxesApi = Pick<
  Store,
  | 'listMailboxes'
  | 'getMailbox'
  | 'getMailboxById'
  | 'createMailbox'
  | 'deleteMailbox'
  | 'renameMailbox'
  | 'setSpecialUse'
  | 'listSubscriptions'
  | 'subscribe'
  | 'unsubscribe'
  | 'mailboxStatus'
  | 'quota'
>;

const SPECIAL_USES = new Set(['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive', '\\All', '\\Flagged']);

function checkSpecialUse(use: SpecialUse | null | undefined): SpecialUse | null {
  if (use === null || use === undefined) return null;
  if (!SPECIAL_USES.has(use)) throw new StoreError('invalid', `not a special-use attribute: ${use}`);
  return use;
}

/** Ids from callers: anything that is not a positive safe integer names nothing. */
export function validId(id: number): boolean {
  return Number.isSafeInteger(id) && id > 0;
}

async function nextUidValidity(t: Tx, now: number): Promise<number> {
  const row = await t.one<{ value: number }>(
    `INSERT INTO sequences (name, value) VALUES ('uidvalidity', $1)
     ON CONFLICT (name) DO UPDATE SET value = GREATEST(sequences.value + 1, EXCLUDED.value) RETURNING value`,
    [Math.floor(now / 1000)],
  );
  return row!.value;
}

/** Inserts a mailbox row (inside a tx). StoreError 'exists' if the name is taken. */
export async function createMailboxRow(t: Tx, now: number, userId: number, name: string, specialUse: SpecialUse | null): Promise<MailboxRow> {
  if (await t.one('SELECT 1 FROM mailboxes WHERE user_id = $1 AND name = $2', [userId, name])) {
    throw new StoreError('exists', `the mailbox ${name} already exists`);
  }
  const uidValidity = await nextUidValidity(t, now);
  return (await t.one<MailboxRow>(
    'INSERT INTO mailboxes (user_id, name, special_use, uid_validity, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING *',
    [userId, name, specialUse, uidValidity, now],
  ))!;
}

/** Drops every message of the mailbox (releasing blob references), and the mailbox row when asked. */
export async function purgeMailbox(t: Tx, now: number, mailboxId: number, deleteRow: boolean): Promise<void> {
  const counts = await t.q<{ blob_id: string; n: number }>('SELECT blob_id, count(*) AS n FROM messages WHERE mailbox_id = $1 GROUP BY blob_id', [mailboxId]);
  await t.run('DELETE FROM messages WHERE mailbox_id = $1', [mailboxId]);
  await adjustBlobRefs(t, now, new Map(counts.map((c) => [c.blob_id, -c.n])));
  if (deleteRow) await t.run('DELETE FROM mailboxes WHERE id = $1', [mailboxId]);
}

export async function mailboxRow(q: Queryable, id: number): Promise<MailboxRow> {
  const row = validId(id) ? await q.one<MailboxRow>('SELECT * FROM mailboxes WHERE id = $1', [id]) : undefined;
  if (!row) throw new StoreError('notFound', `no mailbox with id ${id}`);
  return row;
}

/** Reads and row-locks a mailbox for the rest of the transaction. */
export async function lockMailbox(t: Tx, id: number): Promise<MailboxRow> {
  const row = validId(id) ? await t.one<MailboxRow>('SELECT * FROM mailboxes WHERE id = $1 FOR NO KEY UPDATE', [id]) : undefined;
  if (!row) throw new StoreError('notFound', `no mailbox with id ${id}`);
  return row;
}

/** Locks several mailboxes in id order (the global lock order); returns them by id. */
export async function lockMailboxes(t: Tx, ids: number[]): Promise<Map<number, MailboxRow>> {
  const unique = [...new Set(ids.filter(validId))].sort((a, b) => a - b);
  const rows = unique.length
    ? await t.q<MailboxRow>('SELECT * FROM mailboxes WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE', [unique])
    : [];
  return new Map(rows.map((r) => [r.id, r]));
}

export function mailboxesApi(ctx: Ctx, opts: { onRead?: (row: MailboxRow) => void } = {}): MailboxesApi {
  const { tx } = ctx;

  const assertUser = async (t: Tx, userId: number) => {
    if (!validId(userId) || !(await t.one('SELECT 1 FROM users WHERE id = $1', [userId]))) throw new StoreError('notFound', `no user with id ${userId}`);
  };

  /** RFC 3501 6.3.5: INBOX's messages move to a new mailbox; INBOX stays, empty; its children stay. */
  const renameInbox = async (t: Tx, inbox: MailboxRow, newName: string): Promise<MailboxRow> => {
    const target = await createMailboxRow(t, ctx.now(), inbox.user_id, newName, null);
    const n = inbox.messages;
    if (n > 0) {
      const inboxModseq = inbox.highest_modseq + 1;
      const targetModseq = target.highest_modseq + 1;
      await t.run(
        `INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id, retrieved_at)
         SELECT $1, row_number() OVER (ORDER BY uid), $2, flags, keywords, internal_date, size, blob_id, retrieved_at
         FROM messages WHERE mailbox_id = $3 ORDER BY uid`,
        [target.id, targetModseq, inbox.id],
      );
      await t.run(`INSERT INTO changes (mailbox_id, uid, kind, modseq) SELECT $1, uid, 'append', $2 FROM messages WHERE mailbox_id = $1`, [target.id, targetModseq]);
      await t.run(`DELETE FROM changes WHERE mailbox_id = $1 AND kind <> 'expunge' AND uid IN (SELECT uid FROM messages WHERE mailbox_id = $1)`, [inbox.id]);
      await t.run(
        `INSERT INTO changes (mailbox_id, uid, kind, modseq) SELECT $1, uid, 'expunge', $2 FROM messages WHERE mailbox_id = $1
         ON CONFLICT (mailbox_id, uid, kind) DO UPDATE SET modseq = EXCLUDED.modseq`,
        [inbox.id, inboxModseq],
      );
      await t.run('DELETE FROM messages WHERE mailbox_id = $1', [inbox.id]);
      await t.run('UPDATE mailboxes SET uid_next = $1, highest_modseq = $2, messages = $3, unseen = $4, deleted = $5, size = $6 WHERE id = $7', [
        n + 1,
        targetModseq,
        inbox.messages,
        inbox.unseen,
        inbox.deleted,
        inbox.size,
        target.id,
      ]);
      await t.run('UPDATE mailboxes SET highest_modseq = $1, messages = 0, unseen = 0, deleted = 0, size = 0 WHERE id = $2', [inboxModseq, inbox.id]);
      t.emit({ mailboxId: inbox.id, userId: inbox.user_id, highestModseq: inboxModseq, kind: 'expunge' });
    }
    return mailboxRow(t, target.id);
  };

  return {
    async listMailboxes(userId) {
      if (!validId(userId)) return [];
      const rows = await ctx.q<MailboxRow>(`SELECT * FROM mailboxes WHERE user_id = $1 ORDER BY name <> 'INBOX', name COLLATE "C"`, [userId]);
      return rows.map(toMailbox);
    },

    async getMailbox(userId, name) {
      let n: string;
      try {
        n = normalizeMailboxName(name);
      } catch {
        return null;
      }
      if (!validId(userId)) return null;
      const row = await ctx.one<MailboxRow>('SELECT * FROM mailboxes WHERE user_id = $1 AND name = $2', [userId, n]);
      return row ? toMailbox(row) : null;
    },

    async getMailboxById(id) {
      if (!validId(id)) return null;
      const row = await ctx.one<MailboxRow>('SELECT * FROM mailboxes WHERE id = $1', [id]);
      return row ? toMailbox(row) : null;
    },

    async createMailbox(userId, name, specialUse) {
      const n = normalizeMailboxName(name);
      const use = checkSpecialUse(specialUse);
      return tx(async (t) => {
        await assertUser(t, userId);
        const row = await createMailboxRow(t, ctx.now(), userId, n, use);
        t.emit({ mailboxId: row.id, userId, highestModseq: row.highest_modseq, kind: 'mailbox' });
        return toMailbox(row);
      });
    },

    async deleteMailbox(id) {
      await tx(async (t) => {
        const row = await lockMailbox(t, id);
        if (row.name === 'INBOX') throw new StoreError('invalid', 'INBOX cannot be deleted');
        await purgeMailbox(t, ctx.now(), id, true);
        t.emit({ mailboxId: id, userId: row.user_id, highestModseq: row.highest_modseq, kind: 'mailbox' });
      });
    },

    async renameMailbox(id, newName) {
      const to = normalizeMailboxName(newName);
      return tx(async (t) => {
        const row = await lockMailbox(t, id);
        const from = row.name;
        if (to === from || (await t.one('SELECT 1 FROM mailboxes WHERE user_id = $1 AND name = $2', [row.user_id, to]))) {
          throw new StoreError('exists', `the mailbox ${to} already exists`);
        }
        if (from === 'INBOX') {
          const target = await renameInbox(t, row, to);
          t.emit({ mailboxId: target.id, userId: row.user_id, highestModseq: target.highest_modseq, kind: 'mailbox' });
          return toMailbox(target);
        }
        if (to.startsWith(from + SEPARATOR)) throw new StoreError('invalid', `cannot move ${from} into itself`);
        const prefix = from + SEPARATOR;
        const children = await t.q<{ id: number; name: string }>('SELECT id, name FROM mailboxes WHERE user_id = $1 AND starts_with(name, $2) ORDER BY id', [
          row.user_id,
          prefix,
        ]);
        for (const c of children) {
          const renamed = to + c.name.slice(from.length);
          if (await t.one('SELECT 1 FROM mailboxes WHERE user_id = $1 AND name = $2', [row.user_id, renamed])) {
            throw new StoreError('exists', `the mailbox ${renamed} already exists`);
          }
        }
        await t.run('UPDATE mailboxes SET name = $1 WHERE id = $2', [to, id]);
        for (const c of children) await t.run('UPDATE mailboxes SET name = $1 WHERE id = $2', [to + c.name.slice(from.length), c.id]);
        // Subscriptions follow the mailboxes they name (what users expect; Dovecot does the same).
        const subs = await t.q<{ name: string }>('SELECT name FROM subscriptions WHERE user_id = $1 AND (name = $2 OR starts_with(name, $3))', [
          row.user_id,
          from,
          prefix,
        ]);
        for (const s of subs) {
          await t.run('DELETE FROM subscriptions WHERE user_id = $1 AND name = $2', [row.user_id, s.name]);
          await t.run('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [row.user_id, to + s.name.slice(from.length)]);
        }
        t.emit({ mailboxId: id, userId: row.user_id, highestModseq: row.highest_modseq, kind: 'mailbox' });
        return toMailbox(await mailboxRow(t, id));
      });
    },

    async setSpecialUse(id, specialUse) {
      const use = checkSpecialUse(specialUse);
      await tx(async (t) => {
        const row = await lockMailbox(t, id);
        await t.run('UPDATE mailboxes SET special_use = $1 WHERE id = $2', [use, id]);
        t.emit({ mailboxId: id, userId: row.user_id, highestModseq: row.highest_modseq, kind: 'mailbox' });
      });
    },

    async listSubscriptions(userId) {
      if (!validId(userId)) return [];
      const rows = await ctx.q<{ name: string }>(`SELECT name FROM subscriptions WHERE user_id = $1 ORDER BY name <> 'INBOX', name COLLATE "C"`, [userId]);
      return rows.map((r) => r.name);
    },

    async subscribe(userId, name) {
      const n = normalizeMailboxName(name);
      await tx(async (t) => {
        await assertUser(t, userId);
        await t.run('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, n]);
      });
    },

    async unsubscribe(userId, name) {
      const n = normalizeMailboxName(name);
      if (!validId(userId)) return;
      await ctx.run('DELETE FROM subscriptions WHERE user_id = $1 AND name = $2', [userId, n]);
    },

    async mailboxStatus(id) {
      const r = await mailboxRow(ctx, id);
      opts.onRead?.(r);
      return {
        mailboxId: r.id,
        messages: r.messages,
        unseen: r.unseen,
        size: r.size,
        uidNext: r.uid_next,
        uidValidity: r.uid_validity,
        highestModseq: r.highest_modseq,
        deleted: r.deleted,
      };
    },

    async quota(userId) {
      const u = validId(userId) ? await ctx.one<{ quota: number }>('SELECT quota FROM users WHERE id = $1', [userId]) : undefined;
      if (!u) throw new StoreError('notFound', `no user with id ${userId}`);
      const q = (await ctx.one<{ used: number; messages: number }>(
        'SELECT coalesce(sum(size), 0)::bigint AS used, coalesce(sum(messages), 0)::bigint AS messages FROM mailboxes WHERE user_id = $1',
        [userId],
      ))!;
      return { userId, used: q.used, limit: u.quota, messages: q.messages };
    },
  };
}
