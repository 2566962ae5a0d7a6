/**
 * Mailbox names between the wire and the store (RFC 3501 5.1, RFC 6855,
 * RFC 9051 5.1): modified UTF-7 unless the client enabled UTF-8; "/" is the
 * hierarchy separator; INBOX is case-insensitive. Plus LIST pattern matching
 * with "*" and "%" (RFC 3501 6.3.8).
 */
import { errors } from './errors.js';
import { decodeMutf7, encodeMutf7, Utf7Error } from './mutf7.js';

export const SEPARATOR = '/';

/** Wire bytes of a mailbox argument → the store's UTF-8 name. Throws NO for bad names. */
export function mailboxFromWire(raw: Buffer, utf8: boolean): string {
  let name: string;
  if (utf8) {
    name = decodeUtf8(raw);
  } else {
    if (raw.some((b) => b >= 0x80)) {
      // Raw 8-bit names from clients that did not enable UTF-8: accept valid UTF-8, as Dovecot does.
      name = decodeUtf8(raw);
    } else {
      try {
        name = decodeMutf7(raw.toString('latin1'));
      } catch (err) {
        if (err instanceof Utf7Error) throw errors.badMailboxName(`Invalid mailbox name: ${err.message}`);
        throw err;
      }
    }
  }
  return normaliseName(name);
}

function decodeUtf8(raw: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw errors.badMailboxName('Mailbox name is not valid UTF-8');
  }
}

/** INBOX in any case is INBOX (also as the first level of a child's name). */
export function normaliseName(name: string): string {
  if (name.toUpperCase() === 'INBOX') return 'INBOX';
  if (name.slice(0, 6).toUpperCase() === 'INBOX/') return 'INBOX' + name.slice(5);
  return name;
}

/** A name that may be created: no wildcards, no empty levels, no control characters. */
export function checkCreatableName(name: string): void {
  if (name.length === 0) throw errors.badMailboxName('Empty mailbox name');
  if (/[*%]/.test(name)) throw errors.badMailboxName('Mailbox names may not contain wildcards');
  if (/[\x00-\x1f\x7f]/.test(name)) throw errors.badMailboxName('Mailbox names may not contain control characters');
  if (name.startsWith(SEPARATOR)) throw errors.badMailboxName('Mailbox names may not start with the separator');
  if (name.split(SEPARATOR).some((p, i, all) => p === '' && i < all.length - 1)) throw errors.badMailboxName('Mailbox name has an empty level');
  if (name.length > 500) throw errors.badMailboxName('Mailbox name too long');
}

export function mailboxToWire(name: string, utf8: boolean): string {
  return utf8 ? name : encodeMutf7(name);
}

/**
 * A LIST pattern as a matcher on store names. "*" matches anything, "%" anything
 * but the separator. The reference is prepended as RFC 3501 says.
 */
export function listMatcher(reference: string, pattern: string): (name: string) => boolean {
  let full = pattern;
  if (reference && !pattern.startsWith(SEPARATOR)) full = reference.endsWith(SEPARATOR) || pattern === '' ? reference + pattern : reference + SEPARATOR + pattern;
  else if (reference && pattern.startsWith(SEPARATOR)) full = pattern;
  // INBOX matching is case-insensitive.
  const upper = full.toUpperCase();
  if (upper.startsWith('INBOX') && (upper.length === 5 || upper[5] === SEPARATOR || upper[5] === '*' || upper[5] === '%')) full = 'INBOX' + full.slice(5);
  let re = '^';
  for (const ch of full) {
    if (ch === '*') re += '.*';
    else if (ch === '%') re += '[^/]*';
    else re += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  const rx = new RegExp(re + '$', 's');
  return (name) => rx.test(name);
}

/** Parent names of a hierarchical name ("a/b/c" → ["a", "a/b"]). */
export function parentsOf(name: string): string[] {
  const parts = name.split(SEPARATOR);
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join(SEPARATOR));
  return out;
}
