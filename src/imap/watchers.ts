/**
 * One ChangeBus subscription for the whole IMAP service, fanned out to the
 * sessions that have the changed mailbox selected: with thousands of idle
 * sessions a publish costs one map lookup, not thousands of listener calls.
 */
import type { ChangeBus, MailboxChange } from '../store/types.js';

export interface Watcher {
  onMailboxChange(change: MailboxChange): void;
}

export class MailboxWatchers {
  private readonly byMailbox = new Map<number, Set<Watcher>>();
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly bus: ChangeBus) {}

  start(): void {
    this.unsubscribe ??= this.bus.subscribe((change) => {
      const set = this.byMailbox.get(change.mailboxId);
      if (!set) return;
      for (const w of set) {
        try {
          w.onMailboxChange(change);
        } catch {
          // one session's trouble is not the others'
        }
      }
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.byMailbox.clear();
  }

  watch(mailboxId: number, w: Watcher): () => void {
    let set = this.byMailbox.get(mailboxId);
    if (!set) {
      set = new Set();
      this.byMailbox.set(mailboxId, set);
    }
    set.add(w);
    return () => {
      const s = this.byMailbox.get(mailboxId);
      if (!s) return;
      s.delete(w);
      if (s.size === 0) this.byMailbox.delete(mailboxId);
    };
  }
}
