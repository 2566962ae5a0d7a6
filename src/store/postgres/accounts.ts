/**
 * Domains, users, credentials, addresses and aliases. An address belongs to at
 * most one user or alias (checked across both tables); everything is stored
 * lower-case so lookups are exact. Two nodes adding the same name at once:
 * one insert wins, the other hits the unique key, and its transaction is run
 * again (db.ts), which then finds the row and answers 'exists'.
 */
import { StoreError } from '../errors.js';
import { normalizeAddress, normalizeDomain, normalizeLogin } from '../names.js';
import type { Store, UserCredentials } from '../types.js';
import type { Ctx, Tx } from './db.js';
import { createMailboxRow, purgeMailbox, validId } from './mailboxes.js';
import { json, toAlias, toDomain, toUser, type AliasRow, type DomainRow, type UserRow } from './rows.js';

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
  const { tx } = ctx;

  const domainId = async (t: Tx, name: string): Promise<number> => {
    const row = await t.one<{ id: number }>('SELECT id FROM domains WHERE name = $1', [name]);
    if (!row) throw new StoreError('notFound', `the domain ${name} is not hosted here`);
    return row.id;
  };

  /** The user's row, locked against concurrent changes (and deliveries) when `lock`. */
  const userRow = async (t: Tx | Ctx, id: number, lock = false): Promise<UserRow | undefined> =>
    validId(id) ? t.one<UserRow>(`SELECT * FROM users WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]) : undefined;

  /** Throws 'exists' when the address already means something here. */
  const assertAddressFree = async (t: Tx, address: string): Promise<void> => {
    if (await t.one('SELECT 1 FROM addresses WHERE address = $1', [address])) throw new StoreError('exists', `the address ${address} already belongs to a user`);
    if (await t.one('SELECT 1 FROM aliases WHERE address = $1', [address])) throw new StoreError('exists', `the address ${address} is already an alias`);
  };

  const removeUserNow = async (t: Tx, id: number): Promise<void> => {
    const boxes = await t.q<{ id: number }>('SELECT id FROM mailboxes WHERE user_id = $1 ORDER BY id FOR UPDATE', [id]);
    for (const b of boxes) await purgeMailbox(t, ctx.now(), b.id, true);
    // credentials, addresses, subscriptions, external accounts: ON DELETE CASCADE
    await t.run('DELETE FROM users WHERE id = $1', [id]);
  };

  return {
    async addDomain(name) {
      const d = normalizeDomain(name);
      return tx(async (t) => {
        if (await t.one('SELECT 1 FROM domains WHERE name = $1', [d])) throw new StoreError('exists', `the domain ${d} already exists`);
        const row = await t.one<DomainRow>('INSERT INTO domains (name, created_at) VALUES ($1, $2) RETURNING *', [d, ctx.now()]);
        return toDomain(row!);
      });
    },

    async listDomains() {
      return (await ctx.q<DomainRow>('SELECT * FROM domains ORDER BY name COLLATE "C"')).map(toDomain);
    },

    async getDomain(name) {
      let d: string;
      try {
        d = normalizeDomain(name);
      } catch {
        return null;
      }
      const row = await ctx.one<DomainRow>('SELECT * FROM domains WHERE name = $1', [d]);
      return row ? toDomain(row) : null;
    },

    async removeDomain(name, opts = {}) {
      const d = normalizeDomain(name);
      await tx(async (t) => {
        const id = await domainId(t, d);
        await t.run('SELECT 1 FROM domains WHERE id = $1 FOR UPDATE', [id]);
        const users = await t.q<{ id: number }>('SELECT id FROM users WHERE domain_id = $1 ORDER BY id FOR UPDATE', [id]);
        const aliases = (await t.one<{ n: number }>('SELECT count(*) AS n FROM aliases WHERE domain_id = $1', [id]))!.n;
        const addresses = (await t.one<{ n: number }>('SELECT count(*) AS n FROM addresses WHERE domain_id = $1', [id]))!.n;
        if ((users.length || aliases || addresses) && !opts.force) {
          throw new StoreError('inUse', `the domain ${d} still has ${users.length} users, ${aliases} aliases and ${addresses} addresses`);
        }
        for (const u of users) await removeUserNow(t, u.id);
        await t.run('DELETE FROM aliases WHERE domain_id = $1', [id]);
        await t.run('DELETE FROM addresses WHERE domain_id = $1', [id]);
        await t.run('DELETE FROM domains WHERE id = $1', [id]);
      });
    },

    async addUser(input) {
      const login = normalizeLogin(input.login);
      const [address, domain] = normalizeAddress(input.address);
      if ((input.quota ?? 0) < 0) throw new StoreError('invalid', 'quota must not be negative');
      return tx(async (t) => {
        const dId = await domainId(t, domain);
        // KEY SHARE: the domain must not be removed while this user is created.
        await t.run('SELECT 1 FROM domains WHERE id = $1 FOR KEY SHARE', [dId]);
        if (await t.one('SELECT 1 FROM users WHERE login = $1', [login])) throw new StoreError('exists', `a user with login ${login} already exists`);
        await assertAddressFree(t, address);
        const now = ctx.now();
        const row = (await t.one<UserRow>(
          `INSERT INTO users (login, address, domain_id, display_name, quota, is_admin, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
          [login, address, dId, input.displayName ?? '', input.quota ?? 0, input.isAdmin ?? false, now],
        ))!;
        const c = input.credentials;
        await t.run('INSERT INTO credentials (user_id, password_hash, scram_sha256, sealed_secret) VALUES ($1, $2, $3, $4)', [
          row.id,
          c.passwordHash,
          c.scramSha256,
          c.sealedSecret,
        ]);
        await t.run('INSERT INTO addresses (address, user_id, domain_id, created_at) VALUES ($1, $2, $3, $4)', [address, row.id, dId, now]);
        for (const [name, use] of DEFAULT_MAILBOXES) {
          await createMailboxRow(t, now, row.id, name, use);
          await t.run('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [row.id, name]);
        }
        return toUser(row);
      });
    },

    async getUser(id) {
      const row = await userRow(ctx, id);
      return row ? toUser(row) : null;
    },

    async getUserByLogin(login) {
      const row = await ctx.one<UserRow>('SELECT * FROM users WHERE login = $1', [login.trim().toLowerCase()]);
      return row ? toUser(row) : null;
    },

    async listUsers(domain) {
      if (domain === undefined) return (await ctx.q<UserRow>('SELECT * FROM users ORDER BY address COLLATE "C"')).map(toUser);
      const d = normalizeDomain(domain);
      return (
        await ctx.q<UserRow>('SELECT u.* FROM users u JOIN domains d ON d.id = u.domain_id WHERE d.name = $1 ORDER BY u.address COLLATE "C"', [d])
      ).map(toUser);
    },

    async updateUser(id, patch) {
      if (patch.quota !== undefined && (!Number.isFinite(patch.quota) || patch.quota < 0)) throw new StoreError('invalid', 'quota must be a number >= 0');
      const forward = patch.forwardTo?.map((a) => normalizeAddress(a)[0]);
      return tx(async (t) => {
        const row = await userRow(t, id, true);
        if (!row) throw new StoreError('notFound', `no user with id ${id}`);
        const next = (await t.one<UserRow>(
          `UPDATE users SET display_name = $1, quota = $2, enabled = $3, is_admin = $4, forward_to = $5::jsonb, keep_copy = $6
           WHERE id = $7 RETURNING *`,
          [
            patch.displayName ?? row.display_name,
            patch.quota ?? row.quota,
            patch.enabled ?? row.enabled,
            patch.isAdmin ?? row.is_admin,
            json(forward ?? row.forward_to),
            patch.keepCopy ?? row.keep_copy,
            id,
          ],
        ))!;
        return toUser(next);
      });
    },

    async removeUser(id) {
      await tx(async (t) => {
        if (!(await userRow(t, id, true))) throw new StoreError('notFound', `no user with id ${id}`);
        await removeUserNow(t, id);
      });
    },

    async getCredentials(userId) {
      if (!validId(userId)) return null;
      const row = await ctx.one<{ user_id: number; password_hash: string; scram_sha256: string | null; sealed_secret: string | null }>(
        'SELECT * FROM credentials WHERE user_id = $1',
        [userId],
      );
      if (!row) return null;
      return { userId: row.user_id, passwordHash: row.password_hash, scramSha256: row.scram_sha256, sealedSecret: row.sealed_secret } satisfies UserCredentials;
    },

    async setCredentials(userId, c) {
      await tx(async (t) => {
        if (!(await userRow(t, userId))) throw new StoreError('notFound', `no user with id ${userId}`);
        await t.run(
          `INSERT INTO credentials (user_id, password_hash, scram_sha256, sealed_secret) VALUES ($1, $2, $3, $4)
           ON CONFLICT (user_id) DO UPDATE SET password_hash = EXCLUDED.password_hash,
             scram_sha256 = EXCLUDED.scram_sha256, sealed_secret = EXCLUDED.sealed_secret`,
          [userId, c.passwordHash, c.scramSha256, c.sealedSecret],
        );
      });
    },

    async addAddress(userId, addr) {
      const [address, domain] = normalizeAddress(addr);
      await tx(async (t) => {
        if (!(await userRow(t, userId))) throw new StoreError('notFound', `no user with id ${userId}`);
        const dId = await domainId(t, domain);
        await assertAddressFree(t, address);
        await t.run('INSERT INTO addresses (address, user_id, domain_id, created_at) VALUES ($1, $2, $3, $4)', [address, userId, dId, ctx.now()]);
      });
    },

    async removeAddress(addr) {
      const [address] = normalizeAddress(addr);
      await tx(async (t) => {
        const row = await t.one<{ user_id: number; primary_address: string }>(
          'SELECT a.user_id, u.address AS primary_address FROM addresses a JOIN users u ON u.id = a.user_id WHERE a.address = $1',
          [address],
        );
        if (!row) throw new StoreError('notFound', `no user has the address ${address}`);
        if (row.primary_address === address) throw new StoreError('invalid', `${address} is the user's primary address`);
        await t.run('DELETE FROM addresses WHERE address = $1', [address]);
      });
    },

    async listAddresses(userId) {
      if (!validId(userId)) return [];
      const rows = await ctx.q<{ address: string }>(
        `SELECT a.address FROM addresses a JOIN users u ON u.id = a.user_id
         WHERE a.user_id = $1 ORDER BY a.address = u.address DESC, a.address COLLATE "C"`,
        [userId],
      );
      return rows.map((r) => r.address);
    },

    async addAlias(addr, targets) {
      const [address, domain] = normalizeAddress(addr, { allowCatchAll: true });
      const list = [...new Set(targets.map((t) => normalizeAddress(t)[0]))];
      if (list.length === 0) throw new StoreError('invalid', `the alias ${address} needs at least one target`);
      return tx(async (t) => {
        const dId = await domainId(t, domain);
        await assertAddressFree(t, address);
        const row = await t.one<AliasRow>('INSERT INTO aliases (address, domain_id, targets, created_at) VALUES ($1, $2, $3::jsonb, $4) RETURNING *', [
          address,
          dId,
          json(list),
          ctx.now(),
        ]);
        return toAlias(row!);
      });
    },

    async listAliases(domain) {
      if (domain === undefined) return (await ctx.q<AliasRow>('SELECT * FROM aliases ORDER BY address COLLATE "C"')).map(toAlias);
      const d = normalizeDomain(domain);
      return (
        await ctx.q<AliasRow>('SELECT a.* FROM aliases a JOIN domains d ON d.id = a.domain_id WHERE d.name = $1 ORDER BY a.address COLLATE "C"', [d])
      ).map(toAlias);
    },

    async removeAlias(addr) {
      const [address] = normalizeAddress(addr, { allowCatchAll: true });
      if ((await ctx.run('DELETE FROM aliases WHERE address = $1', [address])) === 0) throw new StoreError('notFound', `no alias ${address}`);
    },

    async resolveAddress(addr) {
      let address: string;
      let domain: string;
      try {
        [address, domain] = normalizeAddress(addr);
      } catch {
        return { kind: 'none' };
      }
      // One round trip: the user, else the alias, else the catch-all.
      const rows = await ctx.q<{ kind: 'user' | 'alias' | 'catchall'; row: Record<string, unknown> }>(
        `SELECT 'user' AS kind, to_jsonb(u) AS row FROM addresses a JOIN users u ON u.id = a.user_id WHERE a.address = $1
         UNION ALL SELECT CASE WHEN address = $1 THEN 'alias' ELSE 'catchall' END, to_jsonb(al) FROM aliases al WHERE address IN ($1, $2)`,
        [address, `@${domain}`],
      );
      const pick = (k: string) => rows.find((r) => r.kind === k)?.row;
      const user = pick('user');
      if (user) return { kind: 'user', user: toUser(user as unknown as UserRow), address };
      const alias = pick('alias') ?? pick('catchall');
      if (alias) return { kind: 'alias', alias: toAlias(alias as unknown as AliasRow), address };
      return { kind: 'none' };
    },
  };
}
