/**
 * The maildrop lock (RFC 1939 8: "the POP3 server acquires an exclusive-access
 * lock on the maildrop"), kept in the store so it holds across worker processes
 * and nodes: store.tryLock("pop3:<userId>") with a lifetime, refreshed while the
 * session lives and confirmed once more before QUIT deletes anything.
 *
 * A process that dies without unlocking (kill -9, power loss) leaves the
 * maildrop "in use" for at most the lifetime, so it is short; a refresh costs
 * one small write per session per interval.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/types.js';

export const LOCK_TTL_MS = 60_000;
export const LOCK_REFRESH_MS = 20_000;

export const maildropLockName = (userId: number): string => `pop3:${userId}`;

export class MaildropLock {
  private lostFlag = false;
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly store: Store,
    readonly name: string,
    private readonly owner: string,
    private readonly log: Logger,
  ) {}

  /** The lock, or null when another session holds it. Store errors propagate. */
  static async acquire(store: Store, userId: number, owner: string, log: Logger): Promise<MaildropLock | null> {
    const lock = new MaildropLock(store, maildropLockName(userId), owner, log);
    return (await store.tryLock(lock.name, owner, LOCK_TTL_MS)) ? lock : null;
  }

  /** Keep it alive until release(). */
  startRefreshing(): void {
    this.timer ??= setInterval(() => void this.refresh(), LOCK_REFRESH_MS);
    this.timer.unref();
  }

  /** It lapsed and someone else took it: deleting now would change their view. */
  get lost(): boolean {
    return this.lostFlag;
  }

  /** Renew now; false (and `lost`) if someone else holds it. */
  async confirm(): Promise<boolean> {
    if (this.lostFlag) return false;
    const held = await this.store.tryLock(this.name, this.owner, LOCK_TTL_MS).catch(() => false);
    if (!held) this.lostFlag = true;
    return held;
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.store.unlock(this.name, this.owner).catch((err) => this.log.warn({ err }, 'unlock failed'));
  }

  private async refresh(): Promise<void> {
    if (this.lostFlag) return;
    try {
      if (!(await this.store.tryLock(this.name, this.owner, LOCK_TTL_MS))) {
        this.lostFlag = true;
        this.log.warn({ lock: this.name }, 'maildrop lock lost to another session');
      }
    } catch (err) {
      // The store being briefly unavailable does not lose the lock: its lifetime outlasts a few refreshes.
      this.log.warn({ err }, 'maildrop lock refresh failed');
    }
  }
}
