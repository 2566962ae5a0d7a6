/**
 * Access and relay rules (managed by `mailroom access|relay`), advisory locks
 * with expiry (POP3 maildrop, fetch polls; they work across processes because
 * they live in the database) and server-wide settings.
 */
import { StoreError } from '../errors.js';
import type { AccessRule, AccessRuleKind, RelayRule, RelayRuleKind, Store } from '../types.js';
import type { Ctx } from './db.js';

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

export function policyApi(ctx: Ctx): PolicyApi {
  const { stmt, write } = ctx;

  const addRule = (table: 'access_rules' | 'relay_rules', kind: string, value: string, note: string): RuleRow => {
    // Addresses, domains, host names and IPv6 hex are all case-insensitive.
    const v = value.trim().toLowerCase();
    if (!v) throw new StoreError('invalid', 'a rule needs a value');
    return write(() => {
      if (stmt(`SELECT 1 FROM ${table} WHERE kind = ? AND value = ?`).get(kind, v)) throw new StoreError('exists', `the rule ${kind} ${v} already exists`);
      return stmt(`INSERT INTO ${table} (kind, value, note, created_at) VALUES (?, ?, ?, ?) RETURNING *`).get(kind, v, note, ctx.now()) as RuleRow;
    });
  };

  const removeRule = (table: 'access_rules' | 'relay_rules', id: number) => {
    write(() => {
      if (stmt(`DELETE FROM ${table} WHERE id = ?`).run(id).changes === 0) throw new StoreError('notFound', `no rule with id ${id}`);
    });
  };

  const listRules = (table: 'access_rules' | 'relay_rules', kind?: string): RuleRow[] =>
    kind === undefined
      ? (stmt(`SELECT * FROM ${table} ORDER BY kind, value`).all() as RuleRow[])
      : (stmt(`SELECT * FROM ${table} WHERE kind = ? ORDER BY value`).all(kind) as RuleRow[]);

  return {
    async addAccessRule(kind, value, note = '') {
      if (!ACCESS_KINDS.has(kind)) throw new StoreError('invalid', `not an access rule kind: ${kind}`);
      return toRule<AccessRuleKind>(addRule('access_rules', kind, value, note)) satisfies AccessRule;
    },
    async listAccessRules(kind) {
      return listRules('access_rules', kind).map((r) => toRule<AccessRuleKind>(r));
    },
    async removeAccessRule(id) {
      removeRule('access_rules', id);
    },
    async addRelayRule(kind, value, note = '') {
      if (!RELAY_KINDS.has(kind)) throw new StoreError('invalid', `not a relay rule kind: ${kind}`);
      return toRule<RelayRuleKind>(addRule('relay_rules', kind, value, note)) satisfies RelayRule;
    },
    async listRelayRules(kind) {
      return listRules('relay_rules', kind).map((r) => toRule<RelayRuleKind>(r));
    },
    async removeRelayRule(id) {
      removeRule('relay_rules', id);
    },

    async tryLock(name, owner, ttlMs) {
      return write(() => {
        const now = ctx.now();
        const row = stmt('SELECT owner, expires_at FROM locks WHERE name = ?').get(name) as { owner: string; expires_at: number } | undefined;
        if (row && row.owner !== owner && row.expires_at > now) return false;
        stmt(
          `INSERT INTO locks (name, owner, expires_at) VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at`,
        ).run(name, owner, now + ttlMs);
        return true;
      });
    },

    async unlock(name, owner) {
      write(() => {
        stmt('DELETE FROM locks WHERE name = ? AND owner = ?').run(name, owner);
      });
    },

    async getSetting(key) {
      return (stmt('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined)?.value ?? null;
    },

    async setSetting(key, value) {
      write(() => {
        stmt('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
      });
    },
  };
}
