/**
 * Canonical forms of the names the store keeps, shared by every backend:
 * domains and addresses lower-case (compared case-insensitively, RFC 5321
 * allows case-sensitive local parts but no one relies on it), mailbox names
 * with INBOX spelled so (RFC 3501 5.1), '/' as the hierarchy separator.
 */
import { StoreError } from './errors.js';

export const SEPARATOR = '/';

export function normalizeDomain(name: string): string {
  const d = name.trim().toLowerCase().replace(/\.$/, '');
  if (!d || d.length > 253 || /[\s@/\\]/.test(d) || d.startsWith('.') || d.includes('..')) {
    throw new StoreError('invalid', `not a domain name: ${JSON.stringify(name)}`);
  }
  return d;
}

/** "local@domain" lower-cased; with allowCatchAll also "@domain". Returns [address, domain]. */
export function normalizeAddress(address: string, opts: { allowCatchAll?: boolean } = {}): [string, string] {
  const a = address.trim().toLowerCase();
  const at = a.lastIndexOf('@');
  if (at < 0 || (at === 0 && !opts.allowCatchAll) || /[\s<>]/.test(a) || a.length > 320) {
    throw new StoreError('invalid', `not an address: ${JSON.stringify(address)}`);
  }
  const domain = normalizeDomain(a.slice(at + 1));
  return [`${a.slice(0, at)}@${domain}`, domain];
}

export function normalizeLogin(login: string): string {
  const l = login.trim().toLowerCase();
  if (!l || l.length > 320 || /[\s\x00-\x1f]/.test(l)) throw new StoreError('invalid', `not a login name: ${JSON.stringify(login)}`);
  return l;
}

/**
 * Mailbox names: "INBOX" in any case is INBOX, and so is the INBOX prefix of
 * its children; no empty levels, no control characters.
 */
export function normalizeMailboxName(name: string): string {
  if (!name || name.length > 1000 || /[\x00-\x1f\x7f]/.test(name)) {
    throw new StoreError('invalid', `not a mailbox name: ${JSON.stringify(name)}`);
  }
  const parts = name.split(SEPARATOR);
  if (parts.some((p) => p === '')) throw new StoreError('invalid', `mailbox name has an empty level: ${JSON.stringify(name)}`);
  if (parts[0]!.toUpperCase() === 'INBOX') parts[0] = 'INBOX';
  return parts.join(SEPARATOR);
}
