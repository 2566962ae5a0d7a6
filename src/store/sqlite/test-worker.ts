/**
 * A separate process for the SQLite store's multi-process tests
 * (sqlite.test.ts): delivers `count` messages to one user and prints one line
 * "ok <uid>" after each deliver() has resolved (i.e. committed).
 * Usage: node --import tsx test-worker.ts DB BLOBDIR USER_ID COUNT TAG
 */
import { createDirBlobStore } from '../blobs/dir.js';
import { LocalBus } from '../bus.js';
import { makeMessage } from '../contract/fixtures.js';
import { openSqliteStore } from './index.js';

const [db, blobDir, userId, count, tag] = process.argv.slice(2);
const store = await openSqliteStore({ path: db!, blobs: createDirBlobStore(blobDir!), bus: new LocalBus() });
const n = Number(count);
for (let i = 0; n === 0 || i < n; i++) {
  const m = makeMessage({ subject: `${tag} ${i}`, padTo: 2000 + (i % 7) * 300 });
  const blob = await store.blobs.put(m.raw);
  const [out] = await store.deliver(blob, m.index, [{ userId: Number(userId) }]);
  if (!out?.ok) {
    console.error(`deliver failed: ${JSON.stringify(out)}`);
    process.exit(2);
  }
  process.stdout.write(`ok ${out.result.uid}\n`);
}
await store.close();
