/**
 * Server-side retention (pop3.retention_days, advertised as EXPIRE): messages a
 * POP3 client retrieved (RETR or TOP) more than N days ago are removed from the
 * INBOX even if the client left them on the server.
 *
 * Rules it keeps:
 * - Only messages with a retrieved mark older than the cut-off go; mail never
 *   fetched by POP3 is never touched.
 * - A maildrop held by a POP3 session is skipped this round (the sweep takes the
 *   same lock a session takes), so no session sees messages vanish under it.
 * - Runs only in the process that runs jobs (ctx.runsJobs): one sweeper per node,
 *   and the lock makes concurrent sweepers on several nodes harmless.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Store } from '../store/types.js';

const DAY_MS = 86_400_000;

export interface SweepResult {
  users: number;
  removed: number;
  /** Users skipped because a session held their maildrop. */
  skipped: number;
}

/** With `dryRun`, counts what would go (held maildrops included) and removes nothing. */
export async function sweepRetention(store: Store, days: number, logger: Logger, now = new Date(), opts: { dryRun?: boolean } = {}): Promise<SweepResult> {
  const result: SweepResult = { users: 0, removed: 0, skipped: 0 };
  if (days <= 0) return result;
  const before = new Date(now.getTime() - days * DAY_MS);
  const owner = `retention:${randomBytes(6).toString('hex')}`;
  for (const user of await store.listUsers()) {
    result.users++;
    const inbox = await store.getMailbox(user.id, 'INBOX');
    if (!inbox) continue;
    const due = await store.listRetrievedBefore(inbox.id, before);
    if (due.length === 0) continue;
    if (opts.dryRun) {
      result.removed += due.length;
      continue;
    }
    const lock = `pop3:${user.id}`;
    if (!(await store.tryLock(lock, owner, 60_000))) {
      result.skipped++;
      continue;
    }
    try {
      // Listed again under the lock: a session that ended just now may have added marks.
      const uids = await store.listRetrievedBefore(inbox.id, before);
      if (uids.length) {
        const { uids: removed } = await store.expunge(inbox.id, uids);
        result.removed += removed.length;
        logger.info({ user: user.login, removed: removed.length, days }, 'retention: removed retrieved messages');
      }
    } finally {
      await store.unlock(lock, owner);
    }
  }
  return result;
}

/** Sweep now and then every `intervalMs`; returns a stop function. */
export function scheduleRetention(store: Store, days: number, logger: Logger, intervalMs = 3_600_000): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      await sweepRetention(store, days, logger);
    } catch (err) {
      logger.error({ err }, 'retention sweep failed');
    } finally {
      running = false;
    }
  };
  const first = setTimeout(() => void tick(), 60_000);
  const timer = setInterval(() => void tick(), intervalMs);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
