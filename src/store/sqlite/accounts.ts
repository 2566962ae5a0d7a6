/**
 * Domains, users, credentials, addresses and aliases. An address belongs to at
 * most one user or alias (checked across both tables); everything is stored
 * lower-case so lookups are exact.
 */
import { StoreError } from '../errors.js';
import { normalizeAddress, normalizeDomain, normalizeLogin } from '../names.js';
import type { Store, UserCredentials } from '../types.js';
import type { Ctx } from './db.js';
import { createMailboxRow, purgeMailbox } from './mailboxes.js';
import { toAlias, toDomain, toUser, type AliasRow, type DomainRow, type UserRow } from './rows.js';

type AccountsApi = Pick<
  Store,
  | 'addDomain'
  | 'listDomains'
  | 'getDomain'
  | 'removeDomain'
  | 'addUser'
  | 'getUser'
  | 'getUserByLogin'
  | 'listUsers'
  | 'updateUser'
  | 'removeUser'
  | 'getCredentials'
  | 'setCredentials'
  | 'addAddress'
  | 'removeAddress'
  | 'listAddresses'
  | 'addAlias'
  | 'listAliases'
  | 'removeAlias'
  | 'resolveAddress'
>;

/** The mailboxes every new user gets (RFC 6154 special-use), all subscribed. */
const DEFAULT_MAILBOXES = [
  ['INBOX', null],
  ['Sent', '\\Sent'],
  ['Drafts', '\\Drafts'],
  ['Trash', '\\Trash'],
  ['Junk', '\\Junk'],
] as const;

export function accountsApi(ctx: Ctx): AccountsApi {
  const { stmt, write } = ctx;

  const domainId = (name: string): number => {
    const row = stmt('SELECT id FROM domains WHERE name = ?').get(name) as { id: number } | undefined;
    if (!row) throw new StoreError('notFound', `the domain ${name} is not hosted here`);
    return row.id;
  };

  const userRow = (id: number): UserRow | undefined => stmt('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;

  /** Throws 'exists' when the address already means something here. */
  const assertAddressFree = (address: string): void => {
    if (stmt('SELECT 1 FROM addresses WHERE address = ?').get(address)) throw new StoreError('exists', `the address ${address} already belongs to a user`);
    if (stmt('SELECT 1 FROM aliases WHERE address = ?').get(address)) throw new StoreError('exists', `the address ${address} is already an alias`);
  };

  const removeUserNow = (id: number): void => {
    const boxes = stmt('SELECT id FROM mailboxes WHERE user_id = ?').all(id) as Array<{ id: number }>;
    for (const b of boxes) purgeMailbox(ctx, b.id, true);
    // credentials, addresses, subscriptions, external accounts: ON DELETE CASCADE
    stmt('DELETE FROM users WHERE id = ?').run(id);
  };

  return {
    async addDomain(name) {
      const d = normalizeDomain(name);
      return write(() => {
        if (stmt('SELECT 1 FROM domains WHERE name = ?').get(d)) throw new StoreError('exists', `the domain ${d} already exists`);
        const row = stmt('INSERT INTO domains (name, created_at) VALUES (?, ?) RETURNING *').get(d, ctx.now()) as DomainRow;
        return toDomain(row);
      });
    },

    async listDomains() {
      return (stmt('SELECT * FROM domains ORDER BY name').all() as DomainRow[]).map(toDomain);
    },

    async getDomain(name) {
      let d: string;
      try {
        d = normalizeDomain(name);
      } catch {
        return null;
      }
      const row = stmt('SELECT * FROM domains WHERE name = ?').get(d) as DomainRow | undefined;
      return row ? toDomain(row) : null;
    },

    async removeDomain(name, opts = {}) {
      const d = normalizeDomain(name);
      write(() => {
        const id = domainId(d);
        const users = stmt('SELECT id FROM users WHERE domain_id = ?').all(id) as Array<{ id: number }>;
        const aliases = (stmt('SELECT count(*) AS n FROM aliases WHERE domain_id = ?').get(id) as { n: number }).n;
        const addresses = (stmt('SELECT count(*) AS n FROM addresses WHERE domain_id = ?').get(id) as { n: number }).n;
        if ((users.length || aliases || addresses) && !opts.force) {
          throw new StoreError('inUse', `the domain ${d} still has ${users.length} users, ${aliases} aliases and ${addresses} addresses`);
        }
        for (const u of users) removeUserNow(u.id);
        stmt('DELETE FROM aliases WHERE domain_id = ?').run(id);
        stmt('DELETE FROM addresses WHERE domain_id = ?').run(id);
        stmt('DELETE FROM domains WHERE id = ?').run(id);
      });
    },

    async addUser(input) {
      const login = normalizeLogin(input.login);
      const [address, domain] = normalizeAddress(input.address);
      if ((input.quota ?? 0) < 0) throw new StoreError('invalid', 'quota must not be negative');
      return write(() => {
        const dId = domainId(domain);
        if (stmt('SELECT 1 FROM users WHERE login = ?').get(login)) throw new StoreError('exists', `a user with login ${login} already exists`);
        assertAddressFree(address);
        const now = ctx.now();
        const row = stmt(
          `INSERT INTO users (login, address, domain_id, display_name, quota, is_admin, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        ).get(login, address, dId, input.displayName ?? '', input.quota ?? 0, input.isAdmin ? 1 : 0, now) as UserRow;
        const c = input.credentials;
        stmt('INSERT INTO credentials (user_id, password_hash, scram_sha256, sealed_secret) VALUES (?, ?, ?, ?)').run(
          row.id,
          c.passwordHash,
          c.scramSha256,
          c.sealedSecret,
        );
        stmt('INSERT INTO addresses (address, user_id, domain_id, created_at) VALUES (?, ?, ?, ?)').run(address, row.id, dId, now);
        for (const [name, use] of DEFAULT_MAILBOXES) {
          createMailboxRow(ctx, row.id, name, use);
          stmt('INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)').run(row.id, name);
        }
        return toUser(row);
      });
    },

    async getUser(id) {
      const row = userRow(id);
      return row ? toUser(row) : null;
    },

    async getUserByLogin(login) {
      const row = stmt('SELECT * FROM users WHERE login = ?').get(login.trim().toLowerCase()) as UserRow | undefined;
      return row ? toUser(row) : null;
    },

    async listUsers(domain) {
      if (domain === undefined) return (stmt('SELECT * FROM users ORDER BY address').all() as UserRow[]).map(toUser);
      const d = normalizeDomain(domain);
      return (
        stmt('SELECT u.* FROM users u JOIN domains d ON d.id = u.domain_id WHERE d.name = ? ORDER BY u.address').all(d) as UserRow[]
      ).map(toUser);
    },

    async updateUser(id, patch) {
      return write(() => {
        const row = userRow(id);
        if (!row) throw new StoreError('notFound', `no user with id ${id}`);
        if (patch.quota !== undefined && (!Number.isFinite(patch.quota) || patch.quota < 0)) throw new StoreError('invalid', 'quota must be a number >= 0');
        const forward = patch.forwardTo?.map((a) => normalizeAddress(a)[0]);
        const next = stmt(
          `UPDATE users SET display_name = ?, quota = ?, enabled = ?, is_admin = ?, forward_to = ?, keep_copy = ?
           WHERE id = ? RETURNING *`,
        ).get(
          patch.displayName ?? row.display_name,
          patch.quota ?? row.quota,
          patch.enabled === undefined ? row.enabled : patch.enabled ? 1 : 0,
          patch.isAdmin === undefined ? row.is_admin : patch.isAdmin ? 1 : 0,
          forward ? JSON.stringify(forward) : row.forward_to,
          patch.keepCopy === undefined ? row.keep_copy : patch.keepCopy ? 1 : 0,
          id,
        ) as UserRow;
        return toUser(next);
      });
    },

    async removeUser(id) {
      write(() => {
        if (!userRow(id)) throw new StoreError('notFound', `no user with id ${id}`);
        removeUserNow(id);
      });
    },

    async getCredentials(userId) {
      const row = stmt('SELECT * FROM credentials WHERE user_id = ?').get(userId) as
        | { user_id: number; password_hash: string; scram_sha256: string | null; sealed_secret: string | null }
        | undefined;
      if (!row) return null;
      return { userId: row.user_id, passwordHash: row.password_hash, scramSha256: row.scram_sha256, sealedSecret: row.sealed_secret } satisfies UserCredentials;
    },

    async setCredentials(userId, c) {
      write(() => {
        if (!userRow(userId)) throw new StoreError('notFound', `no user with id ${userId}`);
        stmt(
          `INSERT INTO credentials (user_id, password_hash, scram_sha256, sealed_secret) VALUES (?, ?, ?, ?)
           ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash,
             scram_sha256 = excluded.scram_sha256, sealed_secret = excluded.sealed_secret`,
        ).run(userId, c.passwordHash, c.scramSha256, c.sealedSecret);
      });
    },

    async addAddress(userId, addr) {
      const [address, domain] = normalizeAddress(addr);
      write(() => {
        if (!userRow(userId)) throw new StoreError('notFound', `no user with id ${userId}`);
        const dId = domainId(domain);
        assertAddressFree(address);
        stmt('INSERT INTO addresses (address, user_id, domain_id, created_at) VALUES (?, ?, ?, ?)').run(address, userId, dId, ctx.now());
      });
    },

    async removeAddress(addr) {
      const [address] = normalizeAddress(addr);
      write(() => {
        const row = stmt('SELECT a.user_id, u.address AS primary_address FROM addresses a JOIN users u ON u.id = a.user_id WHERE a.address = ?').get(address) as
          | { user_id: number; primary_address: string }
          | undefined;
        if (!row) throw new StoreError('notFound', `no user has the address ${address}`);
        if (row.primary_address === address) throw new StoreError('invalid', `${address} is the user's primary address`);
        stmt('DELETE FROM addresses WHERE address = ?').run(address);
      });
    },

    async listAddresses(userId) {
      const rows = stmt(
        `SELECT a.address FROM addresses a JOIN users u ON u.id = a.user_id
         WHERE a.user_id = ? ORDER BY a.address = u.address DESC, a.address`,
      ).all(userId) as Array<{ address: string }>;
      return rows.map((r) => r.address);
    },

    async addAlias(addr, targets) {
      const [address, domain] = normalizeAddress(addr, { allowCatchAll: true });
      const list = [...new Set(targets.map((t) => normalizeAddress(t)[0]))];
      if (list.length === 0) throw new StoreError('invalid', `the alias ${address} needs at least one target`);
      return write(() => {
        const dId = domainId(domain);
        assertAddressFree(address);
        const row = stmt('INSERT INTO aliases (address, domain_id, targets, created_at) VALUES (?, ?, ?, ?) RETURNING *').get(
          address,
          dId,
          JSON.stringify(list),
          ctx.now(),
        ) as AliasRow;
        return toAlias(row);
      });
    },

    async listAliases(domain) {
      if (domain === undefined) return (stmt('SELECT * FROM aliases ORDER BY address').all() as AliasRow[]).map(toAlias);
      const d = normalizeDomain(domain);
      return (
        stmt('SELECT a.* FROM aliases a JOIN domains d ON d.id = a.domain_id WHERE d.name = ? ORDER BY a.address').all(d) as AliasRow[]
      ).map(toAlias);
    },

    async removeAlias(addr) {
      const [address] = normalizeAddress(addr, { allowCatchAll: true });
      write(() => {
        const r = stmt('DELETE FROM aliases WHERE address = ?').run(address);
        if (r.changes === 0) throw new StoreError('notFound', `no alias ${address}`);
      });
    },

    async resolveAddress(addr) {
      let address: string;
      let domain: string;
      try {
        [address, domain] = normalizeAddress(addr);
      } catch {
        return { kind: 'none' };
      }
      const user = stmt('SELECT u.* FROM addresses a JOIN users u ON u.id = a.user_id WHERE a.address = ?').get(address) as UserRow | undefined;
      if (user) return { kind: 'user', user: toUser(user), address };
      const alias = stmt('SELECT * FROM aliases WHERE address = ?').get(address) as AliasRow | undefined;
      if (alias) return { kind: 'alias', alias: toAlias(alias), address };
      const catchAll = stmt('SELECT * FROM aliases WHERE address = ?').get(`@${domain}`) as AliasRow | undefined;
      if (catchAll) return { kind: 'alias', alias: toAlias(catchAll), address };
      return { kind: 'none' };
    },
  };
}
