/**
 * Runs the Store contract suite (src/store/contract/suite.ts) against every
 * backend. SQLite always runs (a temp dir per run).
 *
 * PostgreSQL runs the same suite in contract-postgres.test.ts (a fresh
 * database per run; skipped only when unreachable and CI is not "true").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDirBlobStore } from './blobs/dir.js';
import { LocalBus } from './bus.js';
import { storeContract } from './contract/suite.js';
import { openSqliteStore } from './sqlite/index.js';

storeContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-contract-'));
  const open = () => openSqliteStore({ path: join(dir, 'mailroom.db'), blobs: createDirBlobStore(join(dir, 'blobs')), bus: new LocalBus() });
  const store = await open();
  return {
    store,
    openAnother: open,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
