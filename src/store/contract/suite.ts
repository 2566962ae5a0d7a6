/**
 * The Store contract: one behaviour suite that every backend passes. A backend
 * test file calls storeContract(name, open) with a function that opens a fresh,
 * empty, migrated store and returns it with a cleanup function:
 *
 *   storeContract('sqlite', async () => { ...; return { store, cleanup } });
 *
 * The suite opens one store for all its tests (they use unique names, so they
 * do not see each other) and calls cleanup at the end. `openAnother` opens a
 * second Store on the SAME database (as another process would): it is used for
 * cross-connection tests (parallel writers, locks, queue claims).
 */
import { after, before, describe } from 'node:test';
import type { Store } from '../types.js';
import { accountsContract } from './accounts.js';
import { mailboxesContract } from './mailboxes.js';
import { messagesContract } from './messages.js';
import { miscContract } from './misc.js';
import { queueContract } from './queue.js';
import { searchContract } from './search.js';

export interface ContractBackend {
  store: Store;
  cleanup(): Promise<void>;
  /** A second Store over the same data (its own connection and bus), as another process would open it. Closed by the suite. */
  openAnother(): Promise<Store>;
}

export interface ContractContext {
  store(): Store;
  openAnother(): Promise<Store>;
}

export function storeContract(name: string, open: () => Promise<ContractBackend>): void {
  describe(`store contract: ${name}`, () => {
    let backend: ContractBackend;
    const others: Store[] = [];
    before(async () => {
      backend = await open();
    });
    after(async () => {
      for (const s of others) await s.close().catch(() => {});
      await backend.cleanup();
    });
    const ctx: ContractContext = {
      store: () => backend.store,
      openAnother: async () => {
        const s = await backend.openAnother();
        others.push(s);
        return s;
      },
    };
    accountsContract(ctx);
    mailboxesContract(ctx);
    messagesContract(ctx);
    searchContract(ctx);
    queueContract(ctx);
    miscContract(ctx);
  });
}
