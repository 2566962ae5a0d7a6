/**
 * The in-process change bus: the store publishes a MailboxChange after every
 * committed mutation, and IMAP sessions (IDLE, NOOP) subscribe to learn that a
 * mailbox moved on, then read store.changesSince() for the details.
 *
 * publish() is synchronous and cheap (it runs right after a commit on the hot
 * delivery path) and a listener that throws never breaks the publisher or the
 * other listeners. A cross-process bus (worker relay, PostgreSQL LISTEN/NOTIFY)
 * wraps or replaces this one behind the same ChangeBus interface.
 */
import type { ChangeBus, MailboxChange } from './types.js';

export type ListenerErrorHandler = (err: unknown, change: MailboxChange) => void;

export class LocalBus implements ChangeBus {
  private listeners = new Set<(change: MailboxChange) => void>();
  private closed = false;

  /** onListenerError: where a throwing listener's error goes (default: a process warning). */
  constructor(private readonly onListenerError: ListenerErrorHandler = defaultErrorHandler) {}

  publish(change: MailboxChange): void {
    if (this.closed) return;
    // Iterate over a snapshot: a listener may unsubscribe (itself or others) while we run.
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (err) {
        try {
          this.onListenerError(err, change);
        } catch {
          // An error handler that throws must not break publish either.
        }
      }
    }
  }

  subscribe(listener: (change: MailboxChange) => void): () => void {
    // Wrap so the same function subscribed twice gets two independent subscriptions.
    const entry = (c: MailboxChange) => listener(c);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** Number of live subscriptions (for status output and leak tests). */
  get size(): number {
    return this.listeners.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }
}

function defaultErrorHandler(err: unknown, change: MailboxChange): void {
  process.emitWarning(`change bus listener failed for mailbox ${change.mailboxId}: ${(err as Error)?.message ?? String(err)}`, 'MailroomBusWarning');
}
