/**
 * A separate process for the SQLite store's multi-process tests
 * (sqlite.test.ts):
 *   deliver: delivers COUNT messages to one user (0 = until killed) and prints
 *            "ok <uid>" after each deliver() has resolved (i.e. committed);
 *   claim:   claims queue entries until none is due, printing "claimed <id>"
 *            for each, and records them delivered.
 * Usage: node --import tsx test-worker.ts DB BLOBDIR USER_ID COUNT TAG [deliver|claim]
 */
import { createDirBlobStore } from '../blobs/dir.js';
import { LocalBus } from '../bus.js';
import { makeMessage } from '../contract/fixtures.js';
import { openSqliteStore } from './index.js';

const [db, blobDir, userId, count, tag, mode = 'deliver'] = process.argv.slice(2);
const store = await openSqliteStore({ path: db!, blobs: createDirBlobStore(blobDir!), bus: new LocalBus() });
const n = Number(count);
if (mode === 'claim') {
  for (;;) {
    const claims = await store.claimQueue(tag!, new Date(), 3, 60_000);
    if (claims.length === 0) break;
    for (const c of claims) {
      process.stdout.write(`claimed ${c.entry.id}\n`);
      await store.recordAttempt(
        c.entry.id,
        tag!,
        c.recipients.map((r) => ({ recipientId: r.id, state: 'delivered' as const, reply: '250 ok', host: tag! })),
      );
    }
  }
  await store.close();
  process.exit(0);
}
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
