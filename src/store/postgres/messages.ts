/**
 * Messages in: append (IMAP APPEND) and deliver (the SMTP hot path), and the
 * two reads a session needs: listMessages (the SELECT view) and getMessages
 * (with the delivery-time index).
 *
 * Concurrency across nodes: a delivery locks, in this order, the target users
 * (quota is checked against their usage, which must not move meanwhile), then
 * the target mailboxes by id, then touches the blob row. Every writer takes
 * locks in that order, so concurrent deliveries queue rather than deadlock.
 * Under the mailbox row lock one statement allocates the UID and MODSEQ,
 * moves the counters, inserts the message and its change-log row.
 *
 * The blob's index, texts and search entry (blob_search) are written once
 * per blob, however many copies point at it.
 */
import type { MessageIndex } from '../../core/mime/types.js';
import { StoreError } from '../errors.js';
import { DELETED, formatFlags, joinKeywords, parseFlags, SEEN, type FlagSet } from '../flags.js';
import { normalizeMailboxName } from '../names.js';
import type { AppendResult, BlobRef, DeliveryOutcome, MessageMeta, MessageRecord, Store } from '../types.js';
import { refBlob } from './blob-refs.js';
import type { Ctx, Tx } from './db.js';
import { lockMailbox, mailboxRow, validId } from './mailboxes.js';
import type { MailboxRow } from './rows.js';
import type { TextLoader } from './sync-text.js';

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

/** Appends one message row to a locked mailbox, in one statement; the caller counts the blob reference. */
export async function insertMessage(t: Tx, mailboxId: number, blob: BlobRef, flags: FlagSet, internalDate: number): Promise<AppendResult> {
  const unseen = flags.bits & SEEN ? 0 : 1;
  const deleted = flags.bits & DELETED ? 1 : 0;
  const r = await t.one<{ uid: number; modseq: number; uid_validity: number; user_id: number }>(
    `WITH m AS (
       UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1,
         messages = messages + 1, size = size + $2, unseen = unseen + $3, deleted = deleted + $4
       WHERE id = $1 RETURNING uid_next - 1 AS uid, highest_modseq AS modseq, uid_validity, user_id
     ), msg AS (
       INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id)
       SELECT $1, uid, modseq, $5, $6, $7, $2, $8 FROM m
     ), chg AS (
       INSERT INTO changes (mailbox_id, uid, kind, modseq) SELECT $1, uid, 'append', modseq FROM m
     )
     SELECT * FROM m`,
    [mailboxId, blob.size, unseen, deleted, flags.bits, joinKeywords(flags.keywords), internalDate, blob.id],
  );
  if (!r) throw new StoreError('notFound', `no mailbox with id ${mailboxId}`);
  t.emit({ mailboxId, userId: r.user_id, highestModseq: r.modseq, kind: 'append' });
  return { mailboxId, uid: r.uid, modseq: r.modseq, uidValidity: r.uid_validity };
}

/** Bytes a user's mailboxes hold now (from the maintained counters). */
export async function usedBytes(t: Tx, userId: number): Promise<number> {
  return (await t.one<{ used: number }>('SELECT coalesce(sum(size), 0)::bigint AS used FROM mailboxes WHERE user_id = $1', [userId]))!.used;
}

/** Locks users (in id order, the first step of the global lock order); returns quota and enabled by id. */
export async function lockUsers(t: Tx, ids: number[]): Promise<Map<number, { quota: number; enabled: boolean }>> {
  const unique = [...new Set(ids.filter(validId))].sort((a, b) => a - b);
  if (unique.length === 0) return new Map();
  const rows = await t.q<{ id: number; quota: number; enabled: boolean }>(
    'SELECT id, quota, enabled FROM users WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE',
    [unique],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

export function checkBlobRef(blob: BlobRef): void {
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

export function messagesApi(ctx: Ctx, texts: TextLoader, opts: { onRead?: (row: MailboxRow) => void } = {}): MessagesApi {
  const { tx } = ctx;

  return {
    async listMessages(mailboxId) {
      const mb = await mailboxRow(ctx, mailboxId);
      opts.onRead?.(mb);
      const rows = await ctx.q<MessageRow>(`SELECT ${META_COLUMNS} FROM messages WHERE mailbox_id = $1 ORDER BY uid`, [mailboxId]);
      return rows.map(toMeta);
    },

    async getMessages(mailboxId, uids) {
      if (uids.length === 0 || !validId(mailboxId)) return [];
      const rows = await ctx.q<MessageRow & { index_json: string | null }>(
        `SELECT m.uid, m.modseq, m.flags, m.keywords, m.internal_date, m.size, m.blob_id, b.index_json
         FROM messages m JOIN blobs b ON b.id = m.blob_id
         WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[]) ORDER BY m.uid`,
        [mailboxId, uids.filter((u) => Number.isSafeInteger(u) && u > 0)],
      );
      return rows.map((r): MessageRecord => {
        const index = JSON.parse(r.index_json ?? 'null') as MessageIndex;
        // The decoded body text can be large and nothing on the protocol paths needs it: read it on first access.
        let text: string | undefined;
        Object.defineProperty(index, 'text', {
          enumerable: true,
          configurable: true,
          get: () => (text ??= texts.load(r.blob_id)),
          set: (v: string) => {
            text = v;
          },
        });
        return { ...toMeta(r), index };
      });
    },

    async getMessageMetas(mailboxId, uids) {
      if (uids.length === 0 || !validId(mailboxId)) return [];
      // getMessages without the index: no blob join, no JSON to parse (FETCH FLAGS/UID/RFC822.SIZE...).
      const rows = await ctx.q<MessageRow>(
        `SELECT ${META_COLUMNS} FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid`,
        [mailboxId, uids.filter((u) => Number.isSafeInteger(u) && u > 0)],
      );
      return rows.map(toMeta);
    },

    async append(mailboxId, input) {
      checkBlobRef(input.blob);
      const flags = parseFlags(input.flags ?? []);
      const date = dateMs(input.internalDate, ctx.now());
      const owner = await mailboxRow(ctx, mailboxId);
      return tx(async (t) => {
        const users = await lockUsers(t, [owner.user_id]);
        const user = users.get(owner.user_id);
        await lockMailbox(t, mailboxId);
        if (user && user.quota > 0 && (await usedBytes(t, owner.user_id)) + input.blob.size > user.quota) {
          throw new StoreError('overQuota', 'the mailbox is over its quota');
        }
        const result = await insertMessage(t, mailboxId, input.blob, flags, date);
        await refBlob(t, ctx.now(), input.blob, input.index, 1);
        return result;
      });
    },

    async deliver(blob, index, targets) {
      checkBlobRef(blob);
      const now = ctx.now();
      // Resolve names outside the transaction; the locks below make the answers final.
      const named = targets.map((tg) => {
        try {
          return { ok: true as const, name: normalizeMailboxName(tg.mailbox ?? 'INBOX'), flags: parseFlags(tg.flags ?? []) };
        } catch (err) {
          return { ok: false as const, message: (err as Error).message };
        }
      });
      return tx(async (t) => {
        const users = await lockUsers(
          t,
          targets.map((tg) => tg.userId),
        );
        const wanted = targets.map((tg, i) => (users.has(tg.userId) && named[i]!.ok ? [tg.userId, (named[i] as { name: string }).name] : null));
        const pairs = wanted.filter((w): w is [number, string] => w !== null);
        // Found and row-locked in one statement, in id order (the rows are locked as the sort returns them).
        const found = pairs.length
          ? await t.q<{ id: number; user_id: number; name: string }>(
              `SELECT id, user_id, name FROM mailboxes WHERE (user_id, name) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))
               ORDER BY id FOR NO KEY UPDATE`,
              [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
            )
          : [];
        const boxId = new Map(found.map((f) => [`${f.user_id}\u0000${f.name}`, f.id]));
        const used = new Map<number, number>();
        let refs = 0;
        const outcomes: DeliveryOutcome[] = [];
        for (let i = 0; i < targets.length; i++) {
          const tg = targets[i]!;
          const user = users.get(tg.userId);
          if (!user) {
            outcomes.push({ ok: false, code: 'noSuchUser', message: `no user with id ${tg.userId}` });
            continue;
          }
          if (!user.enabled) {
            outcomes.push({ ok: false, code: 'disabled', message: 'the account is disabled' });
            continue;
          }
          const n = named[i]!;
          if (!n.ok) {
            outcomes.push({ ok: false, code: 'noSuchMailbox', message: n.message });
            continue;
          }
          const mbId = boxId.get(`${tg.userId}\u0000${n.name}`);
          if (mbId === undefined) {
            outcomes.push({ ok: false, code: 'noSuchMailbox', message: `no mailbox ${n.name}` });
            continue;
          }
          if (user.quota > 0) {
            let u = used.get(tg.userId);
            if (u === undefined) used.set(tg.userId, (u = await usedBytes(t, tg.userId)));
            if (u + blob.size > user.quota) {
              outcomes.push({ ok: false, code: 'overQuota', message: 'the mailbox is over its quota' });
              continue;
            }
            used.set(tg.userId, u + blob.size);
          }
          refs++;
          outcomes.push({ ok: true, result: await insertMessage(t, mbId, blob, n.flags, now) });
        }
        await refBlob(t, now, blob, index, refs);
        return outcomes;
      });
    },
  };
}
