/**
 * External mailboxes that fetch/ polls (POP3/IMAP), their last poll, and the
 * remote message ids already delivered (so a message is fetched once even when
 * the remote side keeps it).
 */
import { StoreError } from '../errors.js';
import type { ExternalAccount, Store } from '../types.js';
import type { Ctx } from './db.js';
import { dateOrNull } from './rows.js';

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
  folders: string;
  keep: 'keep' | 'delete' | 'deleteAfterDays';
  delete_after_days: number;
  mode: 'single' | 'multi';
  target_user_id: number;
  enabled: number;
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
  folders: JSON.parse(r.folders) as string[],
  keep: r.keep,
  deleteAfterDays: r.delete_after_days,
  mode: r.mode,
  targetUserId: r.target_user_id,
  enabled: r.enabled === 1,
  lastPollAt: dateOrNull(r.last_poll_at),
  lastError: r.last_error,
  lastCount: r.last_count,
  createdAt: new Date(r.created_at),
});

export function externalApi(ctx: Ctx): ExternalApi {
  const { stmt, write } = ctx;

  return {
    async addExternalAccount(a) {
      if (!a.name.trim()) throw new StoreError('invalid', 'an external account needs a name');
      if (!['pop3', 'imap'].includes(a.protocol)) throw new StoreError('invalid', `not a protocol: ${a.protocol}`);
      return write(() => {
        if (stmt('SELECT 1 FROM external_accounts WHERE name = ?').get(a.name)) throw new StoreError('exists', `an external account named ${a.name} exists`);
        if (!stmt('SELECT 1 FROM users WHERE id = ?').get(a.targetUserId)) throw new StoreError('notFound', `no user with id ${a.targetUserId}`);
        const row = stmt(
          `INSERT INTO external_accounts (name, protocol, host, port, tls, username, sealed_password, interval, folders, keep,
             delete_after_days, mode, target_user_id, enabled, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        ).get(
          a.name,
          a.protocol,
          a.host,
          a.port,
          a.tls,
          a.username,
          a.sealedPassword,
          a.interval,
          JSON.stringify(a.folders),
          a.keep,
          a.deleteAfterDays,
          a.mode,
          a.targetUserId,
          a.enabled ? 1 : 0,
          ctx.now(),
        ) as AccountRow;
        return toAccount(row);
      });
    },

    async listExternalAccounts() {
      return (stmt('SELECT * FROM external_accounts ORDER BY name').all() as AccountRow[]).map(toAccount);
    },

    async getExternalAccount(idOrName) {
      const row = (
        typeof idOrName === 'number'
          ? stmt('SELECT * FROM external_accounts WHERE id = ?').get(idOrName)
          : stmt('SELECT * FROM external_accounts WHERE name = ?').get(idOrName)
      ) as AccountRow | undefined;
      return row ? toAccount(row) : null;
    },

    async removeExternalAccount(id) {
      write(() => {
        if (stmt('DELETE FROM external_accounts WHERE id = ?').run(id).changes === 0) throw new StoreError('notFound', `no external account with id ${id}`);
      });
    },

    async recordPoll(id, at, result) {
      write(() => {
        const r = stmt('UPDATE external_accounts SET last_poll_at = ?, last_error = ?, last_count = ? WHERE id = ?').run(at.getTime(), result.error, result.count, id);
        if (r.changes === 0) throw new StoreError('notFound', `no external account with id ${id}`);
      });
    },

    async seenRemoteIds(accountId, folder) {
      const rows = stmt('SELECT remote_id, seen_at FROM remote_seen WHERE account_id = ? AND folder = ?').all(accountId, folder) as Array<{
        remote_id: string;
        seen_at: number;
      }>;
      return new Map(rows.map((r) => [r.remote_id, new Date(r.seen_at)]));
    },

    async markRemoteSeen(accountId, folder, remoteId, at = new Date()) {
      write(() => {
        if (!stmt('SELECT 1 FROM external_accounts WHERE id = ?').get(accountId)) throw new StoreError('notFound', `no external account with id ${accountId}`);
        // The first delivery's time is what retention (deleteAfterDays) counts from.
        stmt('INSERT OR IGNORE INTO remote_seen (account_id, folder, remote_id, seen_at) VALUES (?, ?, ?, ?)').run(accountId, folder, remoteId, at.getTime());
      });
    },

    async forgetRemoteSeen(accountId, folder, remoteIds) {
      if (remoteIds.length === 0) return;
      write(() => {
        stmt('DELETE FROM remote_seen WHERE account_id = ? AND folder = ? AND remote_id IN (SELECT value FROM json_each(?))').run(
          accountId,
          folder,
          JSON.stringify(remoteIds),
        );
      });
    },
  };
}
