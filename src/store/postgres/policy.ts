/**
 * Access and relay rules (managed by `mailroom access|relay`), advisory locks
 * with expiry (POP3 maildrop, fetch polls) and server-wide settings.
 *
 * tryLock is one statement, atomic across nodes: an upsert whose update only
 * happens when the row is ours or expired; a row comes back only if we hold
 * the lock afterwards. Expiry is judged by this node's clock (as the SQLite
 * store does): nodes must keep their clocks in sync (NTP), as any
 * lease-based scheme needs.
 */
import { StoreError } from '../errors.js';
import type { AccessRule, AccessRuleKind, RelayRule, RelayRuleKind, Store } from '../types.js';
import type { Ctx } from './db.js';
import { validId } from './mailboxes.js';

type PolicyApi = Pick<
  Store,
  | 'addAccessRule'
  | 'listAccessRules'
  | 'removeAccessRule'
  | 'addRelayRule'
  | 'listRelayRules'
  | 'removeRelayRule'
  | 'tryLock'
  | 'unlock'
  | 'getSetting'
  | 'setSetting'
>;

const ACCESS_KINDS = new Set<AccessRuleKind>(['allowIp', 'denyIp', 'blockSender', 'blockSenderDomain', 'blockHost']);
const RELAY_KINDS = new Set<RelayRuleKind>(['trustedIp', 'domain', 'address']);

interface RuleRow {
  id: number;
  kind: string;
  value: string;
  note: string;
  created_at: number;
}

const toRule = <K extends string>(r: RuleRow) => ({ id: r.id, kind: r.kind as K, value: r.value, note: r.note, createdAt: new Date(r.created_at) });

type RuleTable = 'access_rules' | 'relay_rules';

export function policyApi(ctx: Ctx): PolicyApi {
  const addRule = async (table: RuleTable, kind: string, value: string, note: string): Promise<RuleRow> => {
    // Addresses, domains, host names and IPv6 hex are all case-insensitive.
    const v = value.trim().toLowerCase();
    if (!v) throw new StoreError('invalid', 'a rule needs a value');
    const row = await ctx.one<RuleRow>(
      `INSERT INTO ${table} (kind, value, note, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (kind, value) DO NOTHING RETURNING *`,
      [kind, v, note, ctx.now()],
    );
    if (!row) throw new StoreError('exists', `the rule ${kind} ${v} already exists`);
    return row;
  };

  const removeRule = async (table: RuleTable, id: number) => {
    if (!validId(id) || (await ctx.run(`DELETE FROM ${table} WHERE id = $1`, [id])) === 0) throw new StoreError('notFound', `no rule with id ${id}`);
  };

  const listRules = (table: RuleTable, kind?: string): Promise<RuleRow[]> =>
    kind === undefined
      ? ctx.q<RuleRow>(`SELECT * FROM ${table} ORDER BY kind COLLATE "C", value COLLATE "C"`)
      : ctx.q<RuleRow>(`SELECT * FROM ${table} WHERE kind = $1 ORDER BY value COLLATE "C"`, [kind]);

  return {
    async addAccessRule(kind, value, note = '') {
      if (!ACCESS_KINDS.has(kind)) throw new StoreError('invalid', `not an access rule kind: ${kind}`);
      return toRule<AccessRuleKind>(await addRule('access_rules', kind, value, note)) satisfies AccessRule;
    },
    async listAccessRules(kind) {
      return (await listRules('access_rules', kind)).map((r) => toRule<AccessRuleKind>(r));
    },
    async removeAccessRule(id) {
      await removeRule('access_rules', id);
    },
    async addRelayRule(kind, value, note = '') {
      if (!RELAY_KINDS.has(kind)) throw new StoreError('invalid', `not a relay rule kind: ${kind}`);
      return toRule<RelayRuleKind>(await addRule('relay_rules', kind, value, note)) satisfies RelayRule;
    },
    async listRelayRules(kind) {
      return (await listRules('relay_rules', kind)).map((r) => toRule<RelayRuleKind>(r));
    },
    async removeRelayRule(id) {
      await removeRule('relay_rules', id);
    },

    async tryLock(name, owner, ttlMs) {
      const now = ctx.now();
      const row = await ctx.one(
        `INSERT INTO locks (name, owner, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
         WHERE locks.owner = EXCLUDED.owner OR locks.expires_at <= $4
         RETURNING 1`,
        [name, owner, now + Math.max(0, Math.floor(ttlMs)), now],
      );
      return row !== undefined;
    },

    async unlock(name, owner) {
      await ctx.run('DELETE FROM locks WHERE name = $1 AND owner = $2', [name, owner]);
    },

    async getSetting(key) {
      return (await ctx.one<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]))?.value ?? null;
    },

    async setSetting(key, value) {
      await ctx.run('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, value]);
    },
  };
}
