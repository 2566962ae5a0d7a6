/** Contract: the outbound queue: enqueue, leases, attempts, hold/release, reschedule, delete. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStoreError } from '../errors.js';
import type { RecipientResult, Store } from '../types.js';
import { putMessage } from './fixtures.js';
import type { ContractContext } from './suite.js';

const code = (c: string) => (e: unknown) => isStoreError(e, c as never);

/** Claims repeatedly until this entry comes up (other tests' entries may be due too), releasing the others. */
async function claimEntry(s: Store, owner: string, entryId: string, now: Date, leaseMs = 60_000) {
  const claims = await s.claimQueue(owner, now, 1000, leaseMs);
  for (const c of claims) if (c.entry.id !== entryId) await s.releaseClaim(c.entry.id, owner);
  return claims.find((c) => c.entry.id === entryId) ?? null;
}

export function queueContract(t: ContractContext): void {
  describe('outbound queue', () => {
    it('enqueue stores the entry with queued recipients and a short id; get and list find it', async () => {
      const s = t.store();
      const m = await putMessage(s);
      const e = await s.enqueue({
        sender: 'me@example.org',
        blob: m.blob,
        recipients: [{ address: 'A@Remote.example', dsnNotify: 'SUCCESS,FAILURE', dsnOrcpt: 'rfc822;A@Remote.example' }, { address: 'b@remote.example' }],
        source: 'submission',
        dsnRet: 'HDRS',
        dsnEnvid: 'env-1',
      });
      assert.match(e.id, /^[0-9A-Za-z]{8,16}$/);
      assert.equal(e.sender, 'me@example.org');
      assert.deepEqual(e.blob, m.blob);
      assert.equal(e.held, false);
      assert.equal(e.warnedAt, null);
      assert.equal(e.dsnRet, 'HDRS');
      assert.equal(e.dsnEnvid, 'env-1');
      assert.equal(e.source, 'submission');
      assert.equal(e.recipients.length, 2);
      assert.equal(e.recipients[0]!.address, 'A@Remote.example', 'remote local parts keep their case');
      assert.equal(e.recipients[0]!.state, 'queued');
      assert.equal(e.recipients[0]!.attempts, 0);
      assert.equal(e.recipients[0]!.dsnNotify, 'SUCCESS,FAILURE');
      assert.equal(e.recipients[0]!.dsnOrcpt, 'rfc822;A@Remote.example');
      assert.equal(e.recipients[1]!.dsnNotify, null);
      assert.deepEqual(await s.getQueueEntry(e.id), e);
      assert.equal(await s.getQueueEntry('NOSUCHID'), null);
      assert.ok((await s.listQueue()).some((x) => x.id === e.id));
      assert.ok((await s.listQueue({ state: 'active' })).some((x) => x.id === e.id));
      assert.ok((await s.listQueue({ state: 'queued' })).some((x) => x.id === e.id));
      assert.ok(!(await s.listQueue({ state: 'delivered' })).some((x) => x.id === e.id));
      assert.ok((await s.listQueue({ limit: 1 })).length <= 1);
      const null1 = await s.enqueue({ sender: '', blob: m.blob, recipients: [{ address: 'x@y.example' }], source: 'bounce' });
      assert.equal(null1.sender, '');
      await assert.rejects(s.enqueue({ sender: 'a@b', blob: m.blob, recipients: [], source: 'smtp' }), code('invalid'));
      await s.deleteQueueEntry(e.id);
      await s.deleteQueueEntry(null1.id);
    });

    it('claims are exclusive until the lease expires; attempts are recorded and release the lease', async () => {
      const s = t.store();
      const m = await putMessage(s);
      const e = await s.enqueue({ sender: 's@example.org', blob: m.blob, recipients: [{ address: 'r1@x.example' }, { address: 'r2@x.example' }], source: 'smtp' });
      const now = new Date(Date.now() + 1000);
      const c1 = await claimEntry(s, 'node-a', e.id, now);
      assert.ok(c1, 'a due entry is claimed');
      assert.equal(c1.recipients.length, 2);
      assert.equal(c1.leaseUntil.getTime(), now.getTime() + 60_000);
      assert.equal(await claimEntry(s, 'node-b', e.id, now), null, 'a leased entry is not claimed again');
      const other = await t.openAnother();
      assert.equal((await other.claimQueue('node-c', now, 1000, 60_000)).find((c) => c.entry.id === e.id), undefined);
      // Lease expired: someone else may take it.
      const later = new Date(now.getTime() + 61_000);
      const c2 = await claimEntry(s, 'node-b', e.id, later);
      assert.ok(c2);
      const [r1, r2] = c2.recipients;
      const retryAt = new Date(later.getTime() + 300_000);
      await s.recordAttempt(e.id, 'node-b', [
        { recipientId: r1!.id, state: 'delivered', reply: '250 2.0.0 ok', host: 'mx.x.example' },
        { recipientId: r2!.id, state: 'deferred', reply: '451 4.7.1 try later', host: 'mx.x.example', nextAttemptAt: retryAt },
      ]);
      const after = (await s.getQueueEntry(e.id))!;
      const a1 = after.recipients.find((r) => r.id === r1!.id)!;
      const a2 = after.recipients.find((r) => r.id === r2!.id)!;
      assert.equal(a1.state, 'delivered');
      assert.equal(a1.attempts, 1);
      assert.equal(a1.lastReply, '250 2.0.0 ok');
      assert.equal(a1.lastHost, 'mx.x.example');
      assert.equal(a2.state, 'deferred');
      assert.equal(a2.nextAttemptAt.getTime(), retryAt.getTime());
      assert.ok((await s.listQueue({ state: 'deferred' })).some((x) => x.id === e.id));
      // Lease released, but the deferred recipient is not due yet.
      assert.equal(await claimEntry(s, 'node-a', e.id, later), null);
      const c3 = await claimEntry(s, 'node-a', e.id, retryAt);
      assert.ok(c3);
      assert.deepEqual(c3.recipients.map((r) => r.id), [r2!.id], 'only due, unfinished recipients are claimed');
      await s.recordAttempt(e.id, 'node-a', [{ recipientId: r2!.id, state: 'bounced', reply: '550 5.1.1 no such user', host: null }]);
      assert.equal(await claimEntry(s, 'node-a', e.id, new Date(retryAt.getTime() + 10 ** 9)), null, 'final recipients are never claimed');
      await assert.rejects(s.recordAttempt(e.id, 'node-a', [{ recipientId: 99999999, state: 'delivered', reply: '250', host: null }]), code('notFound'));
      await assert.rejects(s.recordAttempt('NOSUCHID', 'node-a', []), code('notFound'));
      await s.deleteQueueEntry(e.id);
    });

    it('recordAttempts (optional; else recordAttempt per entry, as the queue runner does): several entries in one call, all or nothing', async () => {
      const s = t.store();
      const recordAttempts =
        s.recordAttempts?.bind(s) ??
        (async (owner: string, batch: Array<{ entryId: string; results: RecipientResult[] }>) => {
          for (const b of batch) await s.recordAttempt(b.entryId, owner, b.results);
        });
      const m = await putMessage(s);
      const a = await s.enqueue({ sender: 's@example.org', blob: m.blob, recipients: [{ address: 'a@x.example' }], source: 'smtp' });
      const b = await s.enqueue({ sender: 's@example.org', blob: m.blob, recipients: [{ address: 'b@x.example' }, { address: 'c@x.example' }], source: 'smtp' });
      const now = new Date(Date.now() + 1000);
      const ca = (await claimEntry(s, 'batcher', a.id, now))!;
      const cb = (await claimEntry(s, 'batcher', b.id, now))!;
      await recordAttempts('batcher', [
        { entryId: a.id, results: [{ recipientId: ca.recipients[0]!.id, state: 'delivered', reply: '250 ok', host: 'mx' }] },
        {
          entryId: b.id,
          results: [
            { recipientId: cb.recipients[0]!.id, state: 'bounced', reply: '550 no', host: 'mx' },
            { recipientId: cb.recipients[1]!.id, state: 'deferred', reply: '451 later', host: 'mx', nextAttemptAt: now },
          ],
        },
      ]);
      const ea = (await s.getQueueEntry(a.id))!;
      const eb = (await s.getQueueEntry(b.id))!;
      assert.equal(ea.recipients[0]!.state, 'delivered');
      assert.deepEqual(eb.recipients.map((r) => r.state), ['bounced', 'deferred']);
      assert.ok(await claimEntry(s, 'other', b.id, now), 'the lease was released');
      await s.releaseClaim(b.id, 'other');
      if (!s.recordAttempts) {
        await s.deleteQueueEntry(a.id);
        await s.deleteQueueEntry(b.id);
        return;
      }
      // One bad entry: nothing of the batch is recorded.
      const cb2 = (await claimEntry(s, 'batcher', b.id, now))!;
      await assert.rejects(
        s.recordAttempts('batcher', [
          { entryId: b.id, results: [{ recipientId: cb2.recipients[0]!.id, state: 'delivered', reply: '250 ok', host: 'mx' }] },
          { entryId: 'NOSUCHENTRY', results: [] },
        ]),
        code('notFound'),
      );
      assert.equal((await s.getQueueEntry(b.id))!.recipients[1]!.state, 'deferred');
      assert.equal((await s.getQueueEntry(b.id))!.recipients[1]!.attempts, 1);
      await s.deleteQueueEntry(a.id);
      await s.deleteQueueEntry(b.id);
    });

    it('releaseClaim frees the entry only for its owner', async () => {
      const s = t.store();
      const m = await putMessage(s);
      const e = await s.enqueue({ sender: 's@example.org', blob: m.blob, recipients: [{ address: 'r@x.example' }], source: 'smtp' });
      const now = new Date(Date.now() + 1000);
      assert.ok(await claimEntry(s, 'owner-1', e.id, now));
      await s.releaseClaim(e.id, 'someone-else');
      assert.equal(await claimEntry(s, 'owner-2', e.id, now), null);
      await s.releaseClaim(e.id, 'owner-1');
      assert.ok(await claimEntry(s, 'owner-2', e.id, now));
      await s.deleteQueueEntry(e.id);
    });

    it('hold, release, reschedule, warn, delete', async () => {
      const s = t.store();
      const m = await putMessage(s);
      const e = await s.enqueue({ sender: 's@example.org', blob: m.blob, recipients: [{ address: 'r@x.example' }], source: 'smtp', held: true });
      const now = new Date(Date.now() + 1000);
      assert.equal(e.held, true);
      assert.equal(await claimEntry(s, 'o', e.id, now), null, 'held entries are not claimed');
      assert.equal(await s.setQueueHeld(e.id, false), 1);
      assert.equal(await s.setQueueHeld(e.id, false), 0);
      const c = await claimEntry(s, 'o', e.id, now);
      assert.ok(c);
      const future = new Date(now.getTime() + 3600_000);
      await s.recordAttempt(e.id, 'o', [{ recipientId: c.recipients[0]!.id, state: 'deferred', reply: '421 busy', host: 'mx', nextAttemptAt: future }]);
      assert.equal(await claimEntry(s, 'o', e.id, now), null);
      assert.equal(await s.rescheduleQueue(e.id, now), 1);
      assert.ok(await claimEntry(s, 'o', e.id, now), 'rescheduled recipients are due again');
      await s.releaseClaim(e.id, 'o');
      assert.ok((await s.setQueueHeld('all', true)) >= 1);
      assert.equal((await s.getQueueEntry(e.id))!.held, true);
      assert.ok((await s.setQueueHeld('all', false)) >= 1);
      assert.ok((await s.rescheduleQueue('all', now)) >= 1);
      const warned = new Date('2024-05-05T05:05:05Z');
      await s.markWarned(e.id, warned);
      assert.equal((await s.getQueueEntry(e.id))!.warnedAt?.getTime(), warned.getTime());
      await s.deleteQueueEntry(e.id);
      assert.equal(await s.getQueueEntry(e.id), null);
      await assert.rejects(s.deleteQueueEntry(e.id), code('notFound'));
      await assert.rejects(s.setQueueHeld(e.id, true), code('notFound'));
      await assert.rejects(s.markWarned(e.id, warned), code('notFound'));
    });

    it('a queue entry holds its blob until it is deleted', async () => {
      const s = t.store();
      const m = await putMessage(s, { subject: 'queued only' });
      const e = await s.enqueue({ sender: 's@example.org', blob: m.blob, recipients: [{ address: 'r@x.example' }], source: 'smtp' });
      await s.collectGarbage(0);
      assert.equal(await s.blobs.has(m.blob.id), true);
      await s.deleteQueueEntry(e.id);
      await s.collectGarbage(0);
      assert.equal(await s.blobs.has(m.blob.id), false);
    });
  });
}
