/** Contract: migrations, policy rules, locks, settings, external accounts, garbage collection, stats. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isStoreError } from '../errors.js';
import type { NewExternalAccount } from '../types.js';
import { makeUser, putMessage } from './fixtures.js';
import type { ContractContext } from './suite.js';

const code = (c: string) => (e: unknown) => isStoreError(e, c as never);

export function miscContract(t: ContractContext): void {
  describe('migrations', () => {
    it('migrate() is idempotent and returns the schema version', async () => {
      const s = t.store();
      const v1 = await s.migrate();
      const v2 = await s.migrate();
      assert.ok(v1 >= 1);
      assert.equal(v2, v1);
    });
  });

  describe('policy rules', () => {
    it('access rules: add, list by kind, duplicates refused, remove', async () => {
      const s = t.store();
      const r1 = await s.addAccessRule('denyIp', '192.0.2.0/24', 'spammers');
      const r2 = await s.addAccessRule('blockSender', 'Bad@Spam.example');
      assert.equal(r1.kind, 'denyIp');
      assert.equal(r1.note, 'spammers');
      assert.equal(r2.value, 'bad@spam.example');
      assert.equal(r2.note, '');
      assert.ok(r1.createdAt instanceof Date);
      await assert.rejects(s.addAccessRule('denyIp', '192.0.2.0/24'), code('exists'));
      await assert.rejects(s.addAccessRule('nonsense' as never, 'x'), code('invalid'));
      assert.deepEqual((await s.listAccessRules('denyIp')).map((r) => r.id), [r1.id]);
      assert.ok((await s.listAccessRules()).some((r) => r.id === r2.id));
      await s.removeAccessRule(r1.id);
      assert.deepEqual(await s.listAccessRules('denyIp'), []);
      await assert.rejects(s.removeAccessRule(r1.id), code('notFound'));
      await s.removeAccessRule(r2.id);
    });

    it('relay rules: add, list by kind, remove', async () => {
      const s = t.store();
      const r1 = await s.addRelayRule('trustedIp', '10.0.0.0/8', 'office');
      const r2 = await s.addRelayRule('domain', 'Backup.Example');
      assert.equal(r2.value, 'backup.example');
      assert.deepEqual((await s.listRelayRules('trustedIp')).map((r) => r.value), ['10.0.0.0/8']);
      assert.equal((await s.listRelayRules()).length, 2);
      await assert.rejects(s.addRelayRule('domain', 'backup.example'), code('exists'));
      await s.removeRelayRule(r1.id);
      await s.removeRelayRule(r2.id);
      assert.deepEqual(await s.listRelayRules(), []);
    });
  });

  describe('locks and settings', () => {
    it('tryLock: one owner at a time, re-entrant for the owner, free after unlock or expiry', async () => {
      const s = t.store();
      assert.equal(await s.tryLock('pop3:1', 'sess-a', 60_000), true);
      assert.equal(await s.tryLock('pop3:1', 'sess-a', 60_000), true, 'the holder may refresh');
      assert.equal(await s.tryLock('pop3:1', 'sess-b', 60_000), false);
      const other = await t.openAnother();
      assert.equal(await other.tryLock('pop3:1', 'sess-c', 60_000), false, 'held across connections');
      await s.unlock('pop3:1', 'sess-b');
      assert.equal(await s.tryLock('pop3:1', 'sess-b', 60_000), false, 'unlock by a non-owner does nothing');
      await s.unlock('pop3:1', 'sess-a');
      assert.equal(await s.tryLock('pop3:1', 'sess-b', 50), true);
      await sleep(80);
      assert.equal(await s.tryLock('pop3:1', 'sess-a', 60_000), true, 'an expired lock can be taken');
      assert.equal(await s.tryLock('pop3:2', 'sess-b', 60_000), true, 'locks are per name');
      await s.unlock('pop3:1', 'sess-a');
      await s.unlock('pop3:2', 'sess-b');
    });

    it('settings: get, set, overwrite', async () => {
      const s = t.store();
      assert.equal(await s.getSetting('contract.key'), null);
      await s.setSetting('contract.key', 'one');
      await s.setSetting('contract.key', 'two');
      assert.equal(await s.getSetting('contract.key'), 'two');
    });
  });

  describe('external accounts', () => {
    it('add, get by id or name, list, poll results, seen remote ids, remove', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const input: NewExternalAccount = {
        name: `ext-${u.id}`,
        protocol: 'imap',
        host: 'imap.remote.example',
        port: 993,
        tls: 'implicit',
        username: 'me',
        sealedPassword: 'sealed:abc',
        interval: 300,
        folders: ['INBOX', 'Spam'],
        keep: 'deleteAfterDays',
        deleteAfterDays: 7,
        mode: 'single',
        targetUserId: u.id,
        enabled: true,
      };
      const a = await s.addExternalAccount(input);
      assert.deepEqual({ ...a, id: 0, createdAt: null }, { ...input, id: 0, createdAt: null, lastPollAt: null, lastError: null, lastCount: 0 });
      await assert.rejects(s.addExternalAccount(input), code('exists'));
      await assert.rejects(s.addExternalAccount({ ...input, name: 'other', targetUserId: 99999999 }), code('notFound'));
      assert.deepEqual(await s.getExternalAccount(a.id), a);
      assert.deepEqual(await s.getExternalAccount(a.name), a);
      assert.equal(await s.getExternalAccount('nope'), null);
      assert.ok((await s.listExternalAccounts()).some((x) => x.id === a.id));
      const at = new Date('2024-06-01T12:00:00Z');
      await s.recordPoll(a.id, at, { error: 'auth failed', count: 0 });
      await s.recordPoll(a.id, at, { error: null, count: 3 });
      const p = (await s.getExternalAccount(a.id))!;
      assert.equal(p.lastPollAt?.getTime(), at.getTime());
      assert.equal(p.lastError, null);
      assert.equal(p.lastCount, 3);
      await s.markRemoteSeen(a.id, 'INBOX', '1234:1', new Date('2024-01-01T00:00:00Z'));
      await s.markRemoteSeen(a.id, 'INBOX', '1234:1', new Date('2024-02-01T00:00:00Z'));
      await s.markRemoteSeen(a.id, 'INBOX', '1234:2');
      await s.markRemoteSeen(a.id, 'Spam', '99:1');
      const seen = await s.seenRemoteIds(a.id, 'INBOX');
      assert.deepEqual([...seen.keys()].sort(), ['1234:1', '1234:2']);
      assert.equal(seen.get('1234:1')?.getTime(), Date.parse('2024-01-01T00:00:00Z'), 'the first delivery time is kept');
      await s.forgetRemoteSeen(a.id, 'INBOX', ['1234:1', 'never-seen']);
      assert.deepEqual([...(await s.seenRemoteIds(a.id, 'INBOX')).keys()], ['1234:2']);
      assert.equal((await s.seenRemoteIds(a.id, 'Spam')).size, 1);
      await s.removeExternalAccount(a.id);
      assert.equal(await s.getExternalAccount(a.id), null);
      assert.equal((await s.seenRemoteIds(a.id, 'Spam')).size, 0);
      await assert.rejects(s.removeExternalAccount(a.id), code('notFound'));
    });
  });

  describe('garbage collection and stats', () => {
    it('keeps referenced blobs, removes unreferenced ones after the grace period, and orphan files', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const box = (await s.getMailbox(u.id, 'INBOX'))!;
      const kept = await putMessage(s, { subject: 'kept' });
      const dropped = await putMessage(s, { subject: 'dropped' });
      await s.append(box.id, { blob: kept.blob, index: kept.index });
      const r = await s.append(box.id, { blob: dropped.blob, index: dropped.index });
      // A second reference to the same blob: expunging one copy keeps it.
      const c = await s.copy(box.id, [r.uid], box.id);
      await s.expunge(box.id, [r.uid]);
      await s.collectGarbage(0);
      assert.equal(await s.blobs.has(dropped.blob.id), true);
      const orphan = await putMessage(s, { subject: 'orphan: never committed' });
      await s.expunge(box.id, [c.mapping[0]![1]]);
      // Within the grace period nothing goes.
      await s.collectGarbage(3600_000);
      assert.equal(await s.blobs.has(dropped.blob.id), true);
      assert.equal(await s.blobs.has(orphan.blob.id), true);
      await sleep(5);
      const { removed } = await s.collectGarbage(0);
      assert.ok(removed >= 2);
      assert.equal(await s.blobs.has(dropped.blob.id), false);
      assert.equal(await s.blobs.has(orphan.blob.id), false);
      assert.equal(await s.blobs.has(kept.blob.id), true);
      assert.deepEqual(await s.blobs.read(kept.blob.id), kept.raw);
      // The same bytes delivered again after collection work as new.
      const again = await s.blobs.put(dropped.raw);
      const [o] = await s.deliver(again, dropped.index, [{ userId: u.id }]);
      assert.equal(o!.ok, true);
      const [rec] = await s.getMessages(box.id, [o!.ok ? o!.result.uid : 0]);
      assert.equal(rec!.index.subject, 'dropped');
      assert.deepEqual(await s.search(box.id, { op: 'header', field: 'subject', value: 'dropped' }), [o!.ok ? o!.result.uid : 0]);
    });

    it('stats counts domains, users, messages, blob bytes and queue entries', async () => {
      const s = t.store();
      const before = await s.stats();
      const u = await makeUser(s);
      const m = await putMessage(s, { padTo: 1234 });
      await s.deliver(m.blob, m.index, [{ userId: u.id }]);
      const e = await s.enqueue({ sender: 'a@b.example', blob: m.blob, recipients: [{ address: 'c@d.example' }], source: 'smtp' });
      const after = await s.stats();
      assert.equal(after.domains, before.domains + 1);
      assert.equal(after.users, before.users + 1);
      assert.equal(after.messages, before.messages + 1);
      assert.equal(after.queue, before.queue + 1);
      assert.ok(after.blobBytes >= before.blobBytes + m.blob.size);
      await s.deleteQueueEntry(e.id);
    });
  });
}
