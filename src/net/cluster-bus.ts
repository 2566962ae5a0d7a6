/**
 * Change notifications between worker processes of one node (node:cluster).
 * A worker publishes to its own listeners and to the primary; the primary relays
 * to every other worker. (Across nodes, the PostgreSQL store uses LISTEN/NOTIFY.)
 */
import cluster, { type Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import type { ChangeBus, MailboxChange } from '../store/types.js';

const TYPE = 'mailroom:change';

interface ChangeMessage {
  type: typeof TYPE;
  change: MailboxChange;
}

function isChangeMessage(m: unknown): m is ChangeMessage {
  return !!m && typeof m === 'object' && (m as { type?: unknown }).type === TYPE;
}

export class WorkerBus implements ChangeBus {
  private readonly emitter = new EventEmitter();
  private readonly onMessage = (m: unknown) => {
    if (isChangeMessage(m)) this.emit(m.change);
  };

  constructor() {
    this.emitter.setMaxListeners(0);
    process.on('message', this.onMessage);
  }

  private emit(change: MailboxChange): void {
    for (const l of this.emitter.listeners('change')) {
      try {
        (l as (c: MailboxChange) => void)(change);
      } catch {
        // a listener's failure is its own business
      }
    }
  }

  publish(change: MailboxChange): void {
    this.emit(change);
    if (process.send && process.connected) process.send({ type: TYPE, change } satisfies ChangeMessage);
  }

  subscribe(listener: (change: MailboxChange) => void): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }

  async close(): Promise<void> {
    process.off('message', this.onMessage);
    this.emitter.removeAllListeners();
  }
}

/** In the primary: relay every worker's change to the other workers. */
export function relayChangesBetweenWorkers(): void {
  cluster.on('message', (from: Worker, m: unknown) => {
    if (!isChangeMessage(m)) return;
    for (const w of Object.values(cluster.workers ?? {})) {
      if (w && w !== from && w.isConnected()) w.send(m);
    }
  });
}
