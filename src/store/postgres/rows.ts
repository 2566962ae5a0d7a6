/**
 * Row shapes as PostgreSQL returns them (BIGINT already numbers, see db.ts;
 * BOOLEAN as boolean; jsonb parsed), and their mapping to the Store's types.
 */
import type { Alias, Domain, Mailbox, SpecialUse, User } from '../types.js';

export interface DomainRow {
  id: number;
  name: string;
  created_at: number;
}

export interface UserRow {
  id: number;
  login: string;
  address: string;
  domain_id: number;
  display_name: string;
  quota: number;
  enabled: boolean;
  is_admin: boolean;
  forward_to: string[];
  keep_copy: boolean;
  created_at: number;
}

export interface AliasRow {
  id: number;
  address: string;
  targets: string[];
  created_at: number;
}

export interface MailboxRow {
  id: number;
  user_id: number;
  name: string;
  special_use: string | null;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  messages: number;
  unseen: number;
  deleted: number;
  size: number;
  created_at: number;
}

export const toDomain = (r: DomainRow): Domain => ({ id: r.id, name: r.name, createdAt: new Date(r.created_at) });

export const toUser = (r: UserRow): User => ({
  id: r.id,
  login: r.login,
  address: r.address,
  displayName: r.display_name,
  quota: r.quota,
  enabled: r.enabled,
  isAdmin: r.is_admin,
  forwardTo: [...r.forward_to],
  keepCopy: r.keep_copy,
  createdAt: new Date(r.created_at),
});

export const toAlias = (r: AliasRow): Alias => ({
  id: r.id,
  address: r.address,
  targets: [...r.targets],
  createdAt: new Date(r.created_at),
});

export const toMailbox = (r: MailboxRow): Mailbox => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  specialUse: r.special_use as SpecialUse | null,
  uidValidity: r.uid_validity,
  uidNext: r.uid_next,
  highestModseq: r.highest_modseq,
  createdAt: new Date(r.created_at),
});

export const dateOrNull = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

/** JSON text for a jsonb parameter (pg would send a JS array as a PostgreSQL array). */
export const json = (v: unknown): string => JSON.stringify(v);
