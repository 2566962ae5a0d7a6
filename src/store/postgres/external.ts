/**
 * External mailboxes that fetch/ polls (POP3/IMAP), their last poll, and the
 * remote message ids already delivered (so a message is fetched once even when
 * the remote side keeps it).
 */
import { StoreError } from '../errors.js';
import type { ExternalAccount, Store } from '../types.js';
import type { Ctx } from './db.js';
import { validId } from './mailboxes.js';
import { dateOrNull, json } from './rows.js';

type ExternalApi = Pick<
  Store,
  'addExternalAccount' | 'listExternalAccounts' | 'getExternalAccount' | 'removeExternalAccount' | 'recordPoll' | 'seenRemoteIds' | 'markRemoteSeen' | 'forgetRemoteSeen'
>;

interface AccountRow {
  id: number;
  name: string;
  protocol: 'pop3' | 'imap';
  host: string;
  port: number;
  tls: 'none' | 'starttls' | 'implicit';
  username: string;
  sealed_password: string;
  interval: number;
  folders: string[];
  keep: 'keep' | 'delete' | 'deleteAfterDays';
  delete_after_days: number;
  mode: 'single' | 'multi';
  target_user_id: number;
  enabled: boolean;
  last_poll_at: number | null;
  last_error: string | null;
  last_count: number;
  created_at: number;
}

const toAccount = (r: AccountRow): ExternalAccount => ({
  id: r.id,
  name: r.name,
  protocol: r.protocol,
  host: r.host,
  port: r.port,
  tls: r.tls,
  username: r.username,
  sealedPassword: r.sealed_password,
  interval: r.interval,
  folders: [...r.folders],
  keep: r.keep,
  deleteAfterDays: r.delete_after_days,
  mode: r.mode,
  targetUserId: r.target_user_id,
  enabled: r.enabled,
  lastPollAt: dateOrNull(r.last_poll_at),
  lastError: r.last_error,
  lastCount: r.last_count,
  createdAt: new Date(r.created_at),
});

export function externalApi(ctx: Ctx): ExternalApi {
  const { tx } = ctx;

  return {
    async addExternalAccount(a) {
      if (!a.name.trim()) throw new StoreError('invalid', 'an external account needs a name');
      if (!['pop3', 'imap'].includes(a.protocol)) throw new StoreError('invalid', `not a protocol: ${a.protocol}`);
      return tx(async (t) => {
        if (await t.one('SELECT 1 FROM external_accounts WHERE name = $1', [a.name])) throw new StoreError('exists', `an external account named ${a.name} exists`);
        if (!validId(a.targetUserId) || !(await t.one('SELECT 1 FROM users WHERE id = $1', [a.targetUserId]))) {
          throw new StoreError('notFound', `no user with id ${a.targetUserId}`);
        }
        const row = await t.one<AccountRow>(
          `INSERT INTO external_accounts (name, protocol, host, port, tls, username, sealed_password, interval, folders, keep,
             delete_after_days, mode, target_user_id, enabled, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14, $15) RETURNING *`,
          [
            a.name,
            a.protocol,
            a.host,
            a.port,
            a.tls,
            a.username,
            a.sealedPassword,
            a.interval,
            json(a.folders),
            a.keep,
            a.deleteAfterDays,
            a.mode,
            a.targetUserId,
            a.enabled,
            ctx.now(),
          ],
        );
        return toAccount(row!);
      });
    },

    async listExternalAccounts() {
      return (await ctx.q<AccountRow>('SELECT * FROM external_accounts ORDER BY name COLLATE "C"')).map(toAccount);
    },

    async getExternalAccount(idOrName) {
      const row =
        typeof idOrName === 'number'
          ? validId(idOrName)
            ? await ctx.one<AccountRow>('SELECT * FROM external_accounts WHERE id = $1', [idOrName])
            : undefined
          : await ctx.one<AccountRow>('SELECT * FROM external_accounts WHERE name = $1', [idOrName]);
      return row ? toAccount(row) : null;
    },

    async removeExternalAccount(id) {
      if (!validId(id) || (await ctx.run('DELETE FROM external_accounts WHERE id = $1', [id])) === 0) {
        throw new StoreError('notFound', `no external account with id ${id}`);
      }
    },

    async recordPoll(id, at, result) {
      const n = validId(id)
        ? await ctx.run('UPDATE external_accounts SET last_poll_at = $1, last_error = $2, last_count = $3 WHERE id = $4', [at.getTime(), result.error, result.count, id])
        : 0;
      if (n === 0) throw new StoreError('notFound', `no external account with id ${id}`);
    },

    async seenRemoteIds(accountId, folder) {
      if (!validId(accountId)) return new Map();
      const rows = await ctx.q<{ remote_id: string; seen_at: number }>('SELECT remote_id, seen_at FROM remote_seen WHERE account_id = $1 AND folder = $2', [
        accountId,
        folder,
      ]);
      return new Map(rows.map((r) => [r.remote_id, new Date(r.seen_at)]));
    },

    async markRemoteSeen(accountId, folder, remoteId, at = new Date()) {
      await tx(async (t) => {
        if (!validId(accountId) || !(await t.one('SELECT 1 FROM external_accounts WHERE id = $1', [accountId]))) {
          throw new StoreError('notFound', `no external account with id ${accountId}`);
        }
        // The first delivery's time is what retention (deleteAfterDays) counts from.
        await t.run('INSERT INTO remote_seen (account_id, folder, remote_id, seen_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
          accountId,
          folder,
          remoteId,
          at.getTime(),
        ]);
      });
    },

    async forgetRemoteSeen(accountId, folder, remoteIds) {
      if (remoteIds.length === 0 || !validId(accountId)) return;
      await ctx.run('DELETE FROM remote_seen WHERE account_id = $1 AND folder = $2 AND remote_id = ANY($3::text[])', [accountId, folder, remoteIds]);
    },
  };
}
