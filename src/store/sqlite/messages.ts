/**
 * Messages in: append (IMAP APPEND) and deliver (the SMTP hot path), and the
 * two reads a session needs: listMessages (the SELECT view) and getMessages
 * (with the delivery-time index).
 *
 * Per target a delivery costs a handful of cached statements: the user (for
 * quota and enabled), the mailbox, one UPDATE ... RETURNING that allocates the
 * UID and MODSEQ and moves the mailbox counters, the message row and its
 * change-log row. The blob's index and search text are written once per blob,
 * however many copies point at it.
 */
import { headerSearchText } from '../../core/search.js';
import type { MessageIndex } from '../../core/mime/types.js';
import { StoreError } from '../errors.js';
import { DELETED, formatFlags, joinKeywords, parseFlags, SEEN, type FlagSet } from '../flags.js';
import { normalizeMailboxName } from '../names.js';
import type { AppendResult, BlobRef, DeliveryOutcome, MessageMeta, MessageRecord, Store } from '../types.js';
import { jsonList, type Ctx } from './db.js';
import { mailboxRow } from './mailboxes.js';
import { indexBlobText } from './search-index.js';

type MessagesApi = Pick<Store, 'listMessages' | 'getMessages' | 'getMessageMetas' | 'append' | 'deliver'>;

export interface MessageRow {
  uid: number;
  modseq: number;
  flags: number;
  keywords: string;
  internal_date: number;
  size: number;
  blob_id: string;
}

/** Rows per JSON array in listMessages (~130 bytes of JSON each). */
const LIST_CHUNK = 20000;

export const META_COLUMNS = 'uid, modseq, flags, keywords, internal_date, size, blob_id';

export function toMeta(r: MessageRow): MessageMeta {
  return {
    uid: r.uid,
    modseq: r.modseq,
    flags: formatFlags(r.flags, r.keywords),
    internalDate: new Date(r.internal_date),
    size: r.size,
    blobId: r.blob_id,
  };
}

/**
 * Makes sure the blob has its row (and, given an index, its index and search
 * text). References are counted separately by addBlobRefs. The search index
 * entry is written here only when the store indexes inline (see search-index.ts).
 */
export function ensureBlob(ctx: Ctx, blob: BlobRef, index: MessageIndex | null): void {
  const row = ctx.stmt('SELECT seq, indexed FROM blobs WHERE id = ?').get(blob.id) as { seq: number; indexed: number } | undefined;
  if (row && (row.indexed || !index)) return;
  let seq: number;
  if (!row) {
    const now = ctx.now();
    seq = (
      ctx
        .stmt('INSERT INTO blobs (id, size, refs, released_at, indexed, sent_day, created_at) VALUES (?, ?, 0, ?, ?, ?, ?) RETURNING seq')
        .get(blob.id, blob.size, now, index ? 1 : 0, index?.sentDay ?? null, now) as { seq: number }
    ).seq;
  } else {
    seq = row.seq;
    ctx.stmt('UPDATE blobs SET indexed = 1, sent_day = ? WHERE seq = ?').run(index!.sentDay ?? null, seq);
  }
  if (!index) return;
  const { text, ...rest } = index;
  const hdrs = headerSearchText(index.headers);
  const body = text ?? '';
  ctx.stmt('INSERT INTO blob_index (seq, hdrs_text, index_json, body_text) VALUES (?, ?, ?, ?)').run(seq, hdrs, JSON.stringify(rest), body);
  if (ctx.indexInline) indexBlobText(ctx, seq, hdrs, body);
}

/** Adds (or with n < 0 releases) references; a blob at zero gets its release time for GC. */
export function addBlobRefs(ctx: Ctx, blobId: string, n: number): void {
  if (n === 0) return;
  ctx
    .stmt('UPDATE blobs SET refs = refs + ?, released_at = CASE WHEN refs + ? <= 0 THEN ? ELSE NULL END WHERE id = ?')
    .run(n, n, ctx.now(), blobId);
}

/** Appends one message row to a mailbox (inside a write); the caller counts the blob reference. */
export function insertMessage(ctx: Ctx, mailboxId: number, blob: BlobRef, flags: FlagSet, internalDate: number): AppendResult {
  const unseen = flags.bits & SEEN ? 0 : 1;
  const deleted = flags.bits & DELETED ? 1 : 0;
  const r = ctx
    .stmt(
      `UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1,
         messages = messages + 1, size = size + ?, unseen = unseen + ?, deleted = deleted + ?
       WHERE id = ? RETURNING uid_next - 1 AS uid, highest_modseq AS modseq, uid_validity, user_id`,
    )
    .get(blob.size, unseen, deleted, mailboxId) as { uid: number; modseq: number; uid_validity: number; user_id: number } | undefined;
  if (!r) throw new StoreError('notFound', `no mailbox with id ${mailboxId}`);
  ctx
    .stmt('INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    .run(mailboxId, r.uid, r.modseq, flags.bits, joinKeywords(flags.keywords), internalDate, blob.size, blob.id);
  ctx.stmt(`INSERT INTO changes (mailbox_id, uid, kind, modseq) VALUES (?, ?, 'append', ?)`).run(mailboxId, r.uid, r.modseq);
  ctx.emit({ mailboxId, userId: r.user_id, highestModseq: r.modseq, kind: 'append' });
  return { mailboxId, uid: r.uid, modseq: r.modseq, uidValidity: r.uid_validity };
}

/** Bytes a user's mailboxes hold now (from the maintained counters). */
export function usedBytes(ctx: Ctx, userId: number): number {
  return (ctx.stmt('SELECT coalesce(sum(size), 0) AS used FROM mailboxes WHERE user_id = ?').get(userId) as { used: number }).used;
}

function checkBlobRef(blob: BlobRef): void {
  if (!/^[0-9a-f]{64}$/.test(blob.id) || !Number.isSafeInteger(blob.size) || blob.size < 0) {
    throw new StoreError('invalid', 'not a blob reference');
  }
}

function dateMs(d: Date | undefined, now: number): number {
  if (d === undefined) return now;
  const t = d.getTime();
  if (!Number.isFinite(t)) throw new StoreError('invalid', 'invalid internal date');
  return t;
}

export function messagesApi(ctx: Ctx): MessagesApi {
  const { stmt, write } = ctx;

  // The whole mailbox comes through listMessages at SELECT and FETCH 1:*. Per
  // row, better-sqlite3's step and result array cost more than the row itself
  // (100k rows: ~230 ms raw vs ~180 ms as one JSON text parsed by V8), so
  // SQLite packs LIST_CHUNK rows into one JSON array per step. Chunked to keep
  // each string far below SQLite's 1 GB value limit; read in one transaction
  // so the chunks are one snapshot.
  const listChunkStmt = ctx.db
    .prepare(
      `SELECT json_group_array(json_array(${META_COLUMNS}) ORDER BY uid) FROM
         (SELECT ${META_COLUMNS} FROM messages WHERE mailbox_id = ? AND uid > ? ORDER BY uid LIMIT ${LIST_CHUNK})`,
    )
    .pluck();
  const listAll = ctx.db.transaction((mailboxId: number): MessageMeta[] => {
    const out: MessageMeta[] = [];
    let after = 0;
    for (;;) {
      const rows = JSON.parse(listChunkStmt.get(mailboxId, after) as string) as Array<[number, number, number, string, number, number, string]>;
      for (const r of rows) {
        out.push({ uid: r[0], modseq: r[1], flags: formatFlags(r[2], r[3]), internalDate: new Date(r[4]), size: r[5], blobId: r[6] });
      }
      if (rows.length < LIST_CHUNK) return out;
      after = rows[rows.length - 1]![0];
    }
  });

  const textOf = (blobId: string): string => {
    try {
      return (stmt('SELECT x.body_text FROM blobs b JOIN blob_index x ON x.seq = b.seq WHERE b.id = ?').get(blobId) as { body_text: string } | undefined)?.body_text ?? '';
    } catch {
      return ''; // store closed
    }
  };

  return {
    async listMessages(mailboxId) {
      mailboxRow(ctx, mailboxId);
      return listAll(mailboxId);
    },

    async getMessages(mailboxId, uids) {
      if (uids.length === 0) return [];
      const rows = stmt(
        `SELECT m.uid, m.modseq, m.flags, m.keywords, m.internal_date, m.size, m.blob_id, x.index_json
         FROM messages m JOIN blobs b ON b.id = m.blob_id LEFT JOIN blob_index x ON x.seq = b.seq
         WHERE m.mailbox_id = ? AND m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`,
      ).all(mailboxId, jsonList(uids)) as Array<MessageRow & { index_json: string | null }>;
      return rows.map((r): MessageRecord => {
        const index = JSON.parse(r.index_json ?? 'null') as MessageIndex;
        // The decoded body text can be large and FETCH rarely needs it: read it on first access.
        let text: string | undefined;
        Object.defineProperty(index, 'text', {
          enumerable: true,
          configurable: true,
          get: () => (text ??= textOf(r.blob_id)),
          set: (v: string) => {
            text = v;
          },
        });
        return { ...toMeta(r), index };
      });
    },

    async getMessageMetas(mailboxId, uids) {
      if (uids.length === 0) return [];
      // getMessages without the index: no blob join, no JSON to parse (FETCH FLAGS/UID/RFC822.SIZE...).
      const rows = stmt(
        `SELECT ${META_COLUMNS} FROM messages
         WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid`,
      ).all(mailboxId, jsonList(uids)) as MessageRow[];
      return rows.map(toMeta);
    },

    async append(mailboxId, input) {
      checkBlobRef(input.blob);
      const flags = parseFlags(input.flags ?? []);
      const date = dateMs(input.internalDate, ctx.now());
      return ctx.writeBatched(() => {
        const mb = mailboxRow(ctx, mailboxId);
        const user = stmt('SELECT quota FROM users WHERE id = ?').get(mb.user_id) as { quota: number };
        if (user.quota > 0 && usedBytes(ctx, mb.user_id) + input.blob.size > user.quota) {
          throw new StoreError('overQuota', 'the mailbox is over its quota');
        }
        ensureBlob(ctx, input.blob, input.index);
        const result = insertMessage(ctx, mailboxId, input.blob, flags, date);
        addBlobRefs(ctx, input.blob.id, 1);
        return result;
      });
    },

    async deliver(blob, index, targets) {
      checkBlobRef(blob);
      const now = ctx.now();
      return ctx.writeBatched(() => {
        ensureBlob(ctx, blob, index);
        let refs = 0;
        const outcomes = targets.map((t): DeliveryOutcome => {
          const user = stmt('SELECT quota, enabled FROM users WHERE id = ?').get(t.userId) as { quota: number; enabled: number } | undefined;
          if (!user) return { ok: false, code: 'noSuchUser', message: `no user with id ${t.userId}` };
          if (!user.enabled) return { ok: false, code: 'disabled', message: 'the account is disabled' };
          let name: string;
          let flags: FlagSet;
          try {
            name = normalizeMailboxName(t.mailbox ?? 'INBOX');
            flags = parseFlags(t.flags ?? []);
          } catch (err) {
            return { ok: false, code: 'noSuchMailbox', message: (err as Error).message };
          }
          const mb = stmt('SELECT id FROM mailboxes WHERE user_id = ? AND name = ?').get(t.userId, name) as { id: number } | undefined;
          if (!mb) return { ok: false, code: 'noSuchMailbox', message: `no mailbox ${name}` };
          if (user.quota > 0 && usedBytes(ctx, t.userId) + blob.size > user.quota) {
            return { ok: false, code: 'overQuota', message: 'the mailbox is over its quota' };
          }
          refs++;
          return { ok: true, result: insertMessage(ctx, mb.id, blob, flags, now) };
        });
        addBlobRefs(ctx, blob.id, refs);
        return outcomes;
      });
    },
  };
}
