/**
 * Mailboxes, subscriptions, STATUS and quota.
 *
 * UIDVALIDITY comes from one server-wide counter that never goes back (at
 * least the current time in seconds), so a mailbox deleted and created again
 * under the same name never repeats one (RFC 3501 2.3.1.1).
 */
import { StoreError } from '../errors.js';
import { normalizeMailboxName, SEPARATOR } from '../names.js';
import type { SpecialUse, Store } from '../types.js';
import type { Ctx } from './db.js';
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

function nextUidValidity(ctx: Ctx): number {
  const nowSec = Math.floor(ctx.now() / 1000);
  const row = ctx
    .stmt(
      `INSERT INTO sequences (name, value) VALUES ('uidvalidity', ?)
       ON CONFLICT (name) DO UPDATE SET value = max(value + 1, excluded.value) RETURNING value`,
    )
    .get(nowSec) as { value: number };
  return row.value;
}

/** Inserts a mailbox row (inside a write). StoreError 'exists' if the name is taken. */
export function createMailboxRow(ctx: Ctx, userId: number, name: string, specialUse: SpecialUse | null): MailboxRow {
  if (ctx.stmt('SELECT 1 FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, name)) {
    throw new StoreError('exists', `the mailbox ${name} already exists`);
  }
  return ctx
    .stmt('INSERT INTO mailboxes (user_id, name, special_use, uid_validity, created_at) VALUES (?, ?, ?, ?, ?) RETURNING *')
    .get(userId, name, specialUse, nextUidValidity(ctx), ctx.now()) as MailboxRow;
}

/** Drops every message of the mailbox (releasing blob references), and the mailbox row when asked. */
export function purgeMailbox(ctx: Ctx, mailboxId: number, deleteRow: boolean): void {
  ctx
    .stmt(
      `UPDATE blobs SET refs = refs - c.n, released_at = CASE WHEN refs - c.n <= 0 THEN ? ELSE released_at END
       FROM (SELECT blob_id, count(*) AS n FROM messages WHERE mailbox_id = ? GROUP BY blob_id) AS c
       WHERE blobs.id = c.blob_id`,
    )
    .run(ctx.now(), mailboxId);
  ctx.stmt('DELETE FROM messages WHERE mailbox_id = ?').run(mailboxId);
  if (deleteRow) ctx.stmt('DELETE FROM mailboxes WHERE id = ?').run(mailboxId);
}

export function mailboxRow(ctx: Ctx, id: number): MailboxRow {
  const row = ctx.stmt('SELECT * FROM mailboxes WHERE id = ?').get(id) as MailboxRow | undefined;
  if (!row) throw new StoreError('notFound', `no mailbox with id ${id}`);
  return row;
}

export function mailboxesApi(ctx: Ctx): MailboxesApi {
  const { stmt, write } = ctx;

  const assertUser = (userId: number) => {
    if (!stmt('SELECT 1 FROM users WHERE id = ?').get(userId)) throw new StoreError('notFound', `no user with id ${userId}`);
  };

  /** RFC 3501 6.3.5: INBOX's messages move to a new mailbox; INBOX stays, empty; its children stay. */
  const renameInbox = (inbox: MailboxRow, newName: string): MailboxRow => {
    const target = createMailboxRow(ctx, inbox.user_id, newName, null);
    const n = inbox.messages;
    if (n > 0) {
      const inboxModseq = inbox.highest_modseq + 1;
      const targetModseq = target.highest_modseq + 1;
      stmt(
        `INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id, retrieved_at)
         SELECT ?, row_number() OVER (ORDER BY uid), ?, flags, keywords, internal_date, size, blob_id, retrieved_at
         FROM messages WHERE mailbox_id = ? ORDER BY uid`,
      ).run(target.id, targetModseq, inbox.id);
      stmt(`INSERT INTO changes (mailbox_id, uid, kind, modseq) SELECT ?, uid, 'append', ? FROM messages WHERE mailbox_id = ?`).run(
        target.id,
        targetModseq,
        target.id,
      );
      stmt(`DELETE FROM changes WHERE mailbox_id = ? AND kind <> 'expunge' AND uid IN (SELECT uid FROM messages WHERE mailbox_id = ?)`).run(inbox.id, inbox.id);
      stmt(`INSERT INTO changes (mailbox_id, uid, kind, modseq) SELECT ?, uid, 'expunge', ? FROM messages WHERE mailbox_id = ?`).run(
        inbox.id,
        inboxModseq,
        inbox.id,
      );
      stmt('DELETE FROM messages WHERE mailbox_id = ?').run(inbox.id);
      stmt('UPDATE mailboxes SET uid_next = ?, highest_modseq = ?, messages = ?, unseen = ?, deleted = ?, size = ? WHERE id = ?').run(
        n + 1,
        targetModseq,
        inbox.messages,
        inbox.unseen,
        inbox.deleted,
        inbox.size,
        target.id,
      );
      stmt('UPDATE mailboxes SET highest_modseq = ?, messages = 0, unseen = 0, deleted = 0, size = 0 WHERE id = ?').run(inboxModseq, inbox.id);
      ctx.emit({ mailboxId: inbox.id, userId: inbox.user_id, highestModseq: inboxModseq, kind: 'expunge' });
    }
    return mailboxRow(ctx, target.id);
  };

  return {
    async listMailboxes(userId) {
      const rows = stmt(`SELECT * FROM mailboxes WHERE user_id = ? ORDER BY name <> 'INBOX', name`).all(userId) as MailboxRow[];
      return rows.map(toMailbox);
    },

    async getMailbox(userId, name) {
      let n: string;
      try {
        n = normalizeMailboxName(name);
      } catch {
        return null;
      }
      const row = stmt('SELECT * FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, n) as MailboxRow | undefined;
      return row ? toMailbox(row) : null;
    },

    async getMailboxById(id) {
      const row = stmt('SELECT * FROM mailboxes WHERE id = ?').get(id) as MailboxRow | undefined;
      return row ? toMailbox(row) : null;
    },

    async createMailbox(userId, name, specialUse) {
      const n = normalizeMailboxName(name);
      const use = checkSpecialUse(specialUse);
      return write(() => {
        assertUser(userId);
        const row = createMailboxRow(ctx, userId, n, use);
        ctx.emit({ mailboxId: row.id, userId, highestModseq: row.highest_modseq, kind: 'mailbox' });
        return toMailbox(row);
      });
    },

    async deleteMailbox(id) {
      write(() => {
        const row = mailboxRow(ctx, id);
        if (row.name === 'INBOX') throw new StoreError('invalid', 'INBOX cannot be deleted');
        purgeMailbox(ctx, id, true);
        ctx.emit({ mailboxId: id, userId: row.user_id, highestModseq: row.highest_modseq, kind: 'mailbox' });
      });
    },

    async renameMailbox(id, newName) {
      const to = normalizeMailboxName(newName);
      return write(() => {
        const row = mailboxRow(ctx, id);
        const from = row.name;
        if (to === from || stmt('SELECT 1 FROM mailboxes WHERE user_id = ? AND name = ?').get(row.user_id, to)) {
          throw new StoreError('exists', `the mailbox ${to} already exists`);
        }
        if (from === 'INBOX') {
          const target = renameInbox(row, to);
          ctx.emit({ mailboxId: target.id, userId: row.user_id, highestModseq: target.highest_modseq, kind: 'mailbox' });
          return toMailbox(target);
        }
        if (to.startsWith(from + SEPARATOR)) throw new StoreError('invalid', `cannot move ${from} into itself`);
        const prefix = from + SEPARATOR;
        const children = stmt('SELECT id, name FROM mailboxes WHERE user_id = ? AND substr(name, 1, ?) = ?').all(row.user_id, prefix.length, prefix) as Array<{
          id: number;
          name: string;
        }>;
        for (const c of children) {
          const renamed = to + c.name.slice(from.length);
          if (stmt('SELECT 1 FROM mailboxes WHERE user_id = ? AND name = ?').get(row.user_id, renamed)) {
            throw new StoreError('exists', `the mailbox ${renamed} already exists`);
          }
        }
        stmt('UPDATE mailboxes SET name = ? WHERE id = ?').run(to, id);
        for (const c of children) stmt('UPDATE mailboxes SET name = ? WHERE id = ?').run(to + c.name.slice(from.length), c.id);
        // Subscriptions follow the mailboxes they name (what users expect; Dovecot does the same).
        const subs = stmt('SELECT name FROM subscriptions WHERE user_id = ? AND (name = ? OR substr(name, 1, ?) = ?)').all(
          row.user_id,
          from,
          prefix.length,
          prefix,
        ) as Array<{ name: string }>;
        for (const s of subs) {
          stmt('DELETE FROM subscriptions WHERE user_id = ? AND name = ?').run(row.user_id, s.name);
          stmt('INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)').run(row.user_id, to + s.name.slice(from.length));
        }
        ctx.emit({ mailboxId: id, userId: row.user_id, highestModseq: row.highest_modseq, kind: 'mailbox' });
        return toMailbox(mailboxRow(ctx, id));
      });
    },

    async setSpecialUse(id, specialUse) {
      const use = checkSpecialUse(specialUse);
      write(() => {
        const row = mailboxRow(ctx, id);
        stmt('UPDATE mailboxes SET special_use = ? WHERE id = ?').run(use, id);
        ctx.emit({ mailboxId: id, userId: row.user_id, highestModseq: row.highest_modseq, kind: 'mailbox' });
      });
    },

    async listSubscriptions(userId) {
      return (stmt(`SELECT name FROM subscriptions WHERE user_id = ? ORDER BY name <> 'INBOX', name`).all(userId) as Array<{ name: string }>).map((r) => r.name);
    },

    async subscribe(userId, name) {
      const n = normalizeMailboxName(name);
      write(() => {
        assertUser(userId);
        stmt('INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)').run(userId, n);
      });
    },

    async unsubscribe(userId, name) {
      const n = normalizeMailboxName(name);
      write(() => {
        stmt('DELETE FROM subscriptions WHERE user_id = ? AND name = ?').run(userId, n);
      });
    },

    async mailboxStatus(id) {
      const r = mailboxRow(ctx, id);
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
      const u = stmt('SELECT quota FROM users WHERE id = ?').get(userId) as { quota: number } | undefined;
      if (!u) throw new StoreError('notFound', `no user with id ${userId}`);
      const q = stmt('SELECT coalesce(sum(size), 0) AS used, coalesce(sum(messages), 0) AS messages FROM mailboxes WHERE user_id = ?').get(userId) as {
        used: number;
        messages: number;
      };
      return { userId, used: q.used, limit: u.quota, messages: q.messages };
    },
  };
}
