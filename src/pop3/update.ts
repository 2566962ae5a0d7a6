/**
 * What a POP3 session writes to the store: the UPDATE state at QUIT (RFC 1939 6)
 * and the marks a session leaves however it ends.
 *
 * - UPDATE removes the messages marked with DELE in one store.expunge call (one
 *   transaction: all or none), after confirming the session still holds the
 *   maildrop lock. A failure is answered "-ERR [SYS/TEMP]" and nothing is lost:
 *   the messages are still there for the next session.
 * - Retrieved (RETR/TOP, for retention) and \Seen (RETR) marks are written once,
 *   when the session ends, for messages not being deleted.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/types.js';
import { errors } from './errors.js';
import type { MaildropLock } from './lock.js';
import type { Maildrop } from './maildrop.js';

export async function recordMarks(store: Store, drop: Maildrop, log: Logger): Promise<void> {
  const deleted = new Set(drop.deletedUids());
  const retrieved = [...drop.retrieved].filter((u) => !deleted.has(u));
  const seen = [...drop.seen].filter((u) => !deleted.has(u));
  drop.retrieved.clear();
  drop.seen.clear();
  try {
    if (retrieved.length) await store.markRetrieved(drop.mailboxId, retrieved);
    if (seen.length) await store.storeFlags(drop.mailboxId, seen, 'add', ['\\Seen']);
  } catch (err) {
    log.warn({ err }, 'could not record retrieved messages');
  }
}

/** Apply QUIT in TRANSACTION; returns the reply line (CRLF included). */
export async function applyUpdate(store: Store, drop: Maildrop, lock: MaildropLock | null, hostname: string, log: Logger): Promise<string> {
  // If the lock lapsed (a stalled process), another session may hold the maildrop
  // now, and its view must not change under it.
  if (lock && !(await lock.confirm())) return errors.lockLost().line();
  await recordMarks(store, drop, log);
  const uids = drop.deletedUids();
  if (uids.length) {
    try {
      const { uids: removed } = await store.expunge(drop.mailboxId, uids);
      log.info({ deleted: removed.length }, 'update');
    } catch (err) {
      log.error({ err }, 'expunge at QUIT failed');
      return errors.expungeFailed().line();
    }
  }
  return `+OK ${hostname} POP3 server signing off (${drop.stat().count} messages left)\r\n`;
}
