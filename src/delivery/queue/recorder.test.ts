import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDirBlobStore } from '../../store/blobs/dir.js';
import { LocalBus } from '../../store/bus.js';
import { openSqliteStore } from '../../store/sqlite/index.js';
import type { QueueClaim, RecipientResult, Store } from '../../store/types.js';
import { AttemptRecorder } from './recorder.js';

let dir: string;
let store: Store;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailroom-recorder-'));
  store = await openSqliteStore({ path: join(dir, 'db.sqlite'), blobs: createDirBlobStore(join(dir, 'blobs')), bus: new LocalBus() });
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function claims(n: number): Promise<QueueClaim[]> {
  for (let i = 0; i < n; i++) {
    const blob = await store.blobs.put(Buffer.from(`Subject: ${i} ${Math.random()}\r\n\r\nx\r\n`));
    await store.enqueue({ sender: 'a@example.org', blob, source: 'test', recipients: [{ address: `r${i}@remote.test` }] });
  }
  return store.claimQueue('rec', new Date(Date.now() + 1000), n, 60_000);
}
const delivered = (c: QueueClaim): RecipientResult[] => [{ recipientId: c.recipients[0]!.id, state: 'delivered', reply: '250 ok', host: 'h' }];

test('without recordAttempts in the store, each outcome is recorded on its own', async () => {
  const cs = await claims(3);
  const rec = new AttemptRecorder(store, 'rec');
  await Promise.all(cs.map((c) => rec.record(c.entry.id, delivered(c))));
  for (const c of cs) assert.equal((await store.getQueueEntry(c.entry.id))!.recipients[0]!.state, 'delivered');
});

test('with recordAttempts, outcomes of one turn go in one batch; a failing batch falls back entry by entry', async () => {
  const batches: number[] = [];
  let failNext = false;
  // The store as a backend that has the optional batch method (here: its entries one by one).
  const batching: Store = Object.create(store, {
    recordAttempts: {
      value: async (owner: string, batch: Array<{ entryId: string; results: RecipientResult[] }>) => {
        batches.push(batch.length);
        if (failNext) {
          failNext = false;
          throw new Error('batch refused');
        }
        for (const b of batch) await store.recordAttempt(b.entryId, owner, b.results);
      },
    },
  });
  const cs = await claims(6);
  const rec = new AttemptRecorder(batching, 'rec');
  await Promise.all(cs.slice(0, 4).map((c) => rec.record(c.entry.id, delivered(c))));
  assert.deepEqual(batches, [4]);

  // A batch with an entry that no longer exists: the others are still recorded.
  failNext = true;
  await store.deleteQueueEntry(cs[4]!.entry.id);
  const results = await Promise.allSettled([rec.record(cs[4]!.entry.id, delivered(cs[4]!)), rec.record(cs[5]!.entry.id, delivered(cs[5]!))]);
  assert.equal(results[0]!.status, 'rejected');
  assert.equal(results[1]!.status, 'fulfilled');
  assert.equal((await store.getQueueEntry(cs[5]!.entry.id))!.recipients[0]!.state, 'delivered');
  for (const c of cs.slice(0, 4)) assert.equal((await store.getQueueEntry(c.entry.id))!.recipients[0]!.state, 'delivered');
});
