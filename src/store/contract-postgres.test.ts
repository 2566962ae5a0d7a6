/**
 * The Store contract suite (src/store/contract/suite.ts) on PostgreSQL: a
 * fresh database per run (dropped afterwards), the PostgreSQL blob store, and
 * each Store's own LISTEN/NOTIFY bus. openAnother opens a second Store on the
 * same database: another node. Skips only when PostgreSQL is unreachable and
 * CI is not 'true'.
 */
import { test } from 'node:test';
import { storeContract } from './contract/suite.js';
import { openPostgresStore } from './postgres/index.js';
import { createTestDatabase, pgSkipReason } from './postgres/testing.js';

const skip = await pgSkipReason();
if (skip) {
  test('store contract: postgres', (t) => t.skip(skip));
} else {
  storeContract('postgres', async () => {
    const db = await createTestDatabase();
    const open = () => openPostgresStore({ url: db.url, blobs: 'postgres' });
    const store = await open();
    return {
      store,
      openAnother: open,
      async cleanup() {
        await store.close();
        await db.drop();
      },
    };
  });
}
