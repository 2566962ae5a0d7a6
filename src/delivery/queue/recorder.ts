/**
 * Group commit for attempt outcomes. Every delivered, deferred or bounced
 * recipient must be recorded durably (a 250 we forget is a duplicate after a
 * crash), and on SQLite every commit is an fsync that blocks the process for
 * a few milliseconds. Outcomes that arrive in the same turn of the event loop
 * (and those that pile up while a commit runs) are written in one transaction
 * through store.recordAttempts when the store has it; otherwise, and for a
 * batch that fails, entry by entry with recordAttempt, so one bad entry (say,
 * deleted by an administrator meanwhile) never loses the others.
 */
import type { RecipientResult, Store } from '../../store/types.js';

interface Pending {
  entryId: string;
  results: RecipientResult[];
  done: (err?: unknown) => void;
}

export class AttemptRecorder {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly store: Store,
    private readonly owner: string,
    private readonly maxBatch = 256,
  ) {}

  /** Resolves once the outcome is committed; rejects if it could not be. */
  record(entryId: string, results: RecipientResult[]): Promise<void> {
    if (!this.store.recordAttempts) return this.store.recordAttempt(entryId, this.owner, results);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ entryId, results, done: (err) => (err ? reject(err) : resolve()) });
      if (this.pending.length >= this.maxBatch) void this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    try {
      await this.store.recordAttempts!(
        this.owner,
        batch.map((p) => ({ entryId: p.entryId, results: p.results })),
      );
      for (const p of batch) p.done();
    } catch {
      for (const p of batch) {
        await this.store.recordAttempt(p.entryId, this.owner, p.results).then(
          () => p.done(),
          (err) => p.done(err),
        );
      }
    }
    if (this.pending.length && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
  }
}
