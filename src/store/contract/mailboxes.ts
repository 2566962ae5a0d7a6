/** Contract: mailboxes, rename rules, subscriptions, STATUS counters, quota. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStoreError } from '../errors.js';
import type { MailboxChange } from '../types.js';
import { makeUser, putMessage } from './fixtures.js';
import type { ContractContext } from './suite.js';

const code = (c: string) => (e: unknown) => isStoreError(e, c as never);

export function mailboxesContract(t: ContractContext): void {
  describe('mailboxes', () => {
    it('create, get (INBOX in any case), list, exists, notFound', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const events: MailboxChange[] = [];
      const off = s.bus.subscribe((c) => events.push(c));
      const m = await s.createMailbox(u.id, 'Projects/2024', null);
      off();
      assert.equal(m.name, 'Projects/2024');
      assert.equal(m.userId, u.id);
      assert.equal(m.uidNext, 1);
      assert.ok(events.some((e) => e.mailboxId === m.id && e.kind === 'mailbox'));
      assert.equal((await s.getMailbox(u.id, 'projects/2024')), null, 'names other than INBOX are case-sensitive');
      assert.equal((await s.getMailbox(u.id, 'Projects/2024'))?.id, m.id);
      assert.equal((await s.getMailbox(u.id, 'inbox'))?.name, 'INBOX');
      assert.equal((await s.getMailboxById(m.id))?.name, 'Projects/2024');
      assert.equal(await s.getMailboxById(99999999), null);
      await assert.rejects(s.createMailbox(u.id, 'Projects/2024'), code('exists'));
      await assert.rejects(s.createMailbox(u.id, 'Inbox'), code('exists'));
      await assert.rejects(s.createMailbox(u.id, 'a//b'), code('invalid'));
      await assert.rejects(s.createMailbox(99999999, 'x'), code('notFound'));
      const child = await s.createMailbox(u.id, 'inbox/Child');
      assert.equal(child.name, 'INBOX/Child');
      const arch = await s.createMailbox(u.id, 'Archive', '\\Archive');
      assert.equal(arch.specialUse, '\\Archive');
      await s.setSpecialUse(arch.id, null);
      assert.equal((await s.getMailboxById(arch.id))?.specialUse, null);
      await s.setSpecialUse(arch.id, '\\All');
      assert.equal((await s.getMailboxById(arch.id))?.specialUse, '\\All');
      const names = (await s.listMailboxes(u.id)).map((b) => b.name);
      assert.equal(names[0], 'INBOX');
      assert.ok(names.includes('INBOX/Child') && names.includes('Projects/2024'));
    });

    it('delete removes the mailbox and its messages (not its children); INBOX cannot go; a new one gets a new UIDVALIDITY', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const box = await s.createMailbox(u.id, 'Old');
      await s.createMailbox(u.id, 'Old/Kid');
      const m = await putMessage(s);
      await s.append(box.id, { blob: m.blob, index: m.index });
      await s.deleteMailbox(box.id);
      assert.equal(await s.getMailbox(u.id, 'Old'), null);
      assert.ok(await s.getMailbox(u.id, 'Old/Kid'));
      assert.equal((await s.quota(u.id)).used, 0);
      const again = await s.createMailbox(u.id, 'Old');
      assert.notEqual(again.uidValidity, box.uidValidity);
      assert.ok(again.uidValidity > box.uidValidity);
      const inbox = (await s.getMailbox(u.id, 'INBOX'))!;
      await assert.rejects(s.deleteMailbox(inbox.id), code('invalid'));
      await assert.rejects(s.deleteMailbox(box.id), code('notFound'));
    });

    it('rename moves children and subscriptions; refuses existing names and moving into itself', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const a = await s.createMailbox(u.id, 'A');
      const ab = await s.createMailbox(u.id, 'A/B');
      await s.createMailbox(u.id, 'A/B/C');
      const ax = await s.createMailbox(u.id, 'AX');
      await s.subscribe(u.id, 'A/B');
      const m = await putMessage(s);
      const r = await s.append(ab.id, { blob: m.blob, index: m.index });
      const renamed = await s.renameMailbox(a.id, 'Z/A');
      assert.equal(renamed.id, a.id);
      assert.equal(renamed.name, 'Z/A');
      assert.equal(renamed.uidValidity, a.uidValidity, 'a renamed mailbox keeps its UIDVALIDITY');
      const names = (await s.listMailboxes(u.id)).map((b) => b.name);
      assert.ok(names.includes('Z/A/B') && names.includes('Z/A/B/C'));
      assert.ok(!names.includes('A/B'));
      assert.equal((await s.getMailboxById(ax.id))?.name, 'AX', 'a sibling sharing the prefix is not a child');
      const msgs = await s.listMessages(ab.id);
      assert.deepEqual(msgs.map((x) => x.uid), [r.uid], 'messages stay with the renamed mailbox');
      const subs = await s.listSubscriptions(u.id);
      assert.ok(subs.includes('Z/A/B') && !subs.includes('A/B'));
      await assert.rejects(s.renameMailbox(a.id, 'AX'), code('exists'));
      await assert.rejects(s.renameMailbox(a.id, 'Z/A/B/D'), code('invalid'));
      await assert.rejects(s.renameMailbox(a.id, 'inbox'), code('exists'));
      await assert.rejects(s.renameMailbox(99999999, 'Q'), code('notFound'));
      // A child whose new name exists blocks the whole rename.
      const p = await s.createMailbox(u.id, 'P');
      await s.createMailbox(u.id, 'P/Q');
      await s.createMailbox(u.id, 'R/Q');
      await assert.rejects(s.renameMailbox(p.id, 'R'), code('exists'));
      assert.equal((await s.getMailboxById(p.id))?.name, 'P');
    });

    it('renaming INBOX moves its messages to a new mailbox and leaves INBOX empty', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const inbox = (await s.getMailbox(u.id, 'INBOX'))!;
      const kid = await s.createMailbox(u.id, 'INBOX/Kid');
      for (let i = 0; i < 3; i++) {
        const m = await putMessage(s, { subject: `inbox ${i}` });
        await s.append(inbox.id, { blob: m.blob, index: m.index, flags: i === 1 ? ['\\Seen'] : [] });
      }
      const before = await s.listMessages(inbox.id);
      const moved = await s.renameMailbox(inbox.id, 'Old Inbox');
      assert.notEqual(moved.id, inbox.id);
      assert.equal(moved.name, 'Old Inbox');
      const inboxNow = (await s.getMailbox(u.id, 'INBOX'))!;
      assert.equal(inboxNow.id, inbox.id);
      assert.deepEqual(await s.listMessages(inbox.id), []);
      assert.equal((await s.mailboxStatus(inbox.id)).messages, 0);
      const after = await s.listMessages(moved.id);
      assert.equal(after.length, 3);
      assert.deepEqual(after.map((x) => x.blobId), before.map((x) => x.blobId));
      assert.deepEqual(after.map((x) => x.flags), before.map((x) => x.flags));
      const st = await s.mailboxStatus(moved.id);
      assert.equal(st.messages, 3);
      assert.equal(st.unseen, 2);
      assert.ok(st.uidNext > after.at(-1)!.uid);
      assert.equal((await s.getMailboxById(kid.id))?.name, 'INBOX/Kid', "INBOX's children are not moved");
      const changes = await s.changesSince(inbox.id, before.at(-1)!.modseq);
      assert.deepEqual(changes.filter((c) => c.kind === 'expunge').map((c) => c.uid), before.map((x) => x.uid));
      // New mail still arrives in INBOX, with UIDs above the old ones.
      const m = await putMessage(s);
      const [o] = await s.deliver(m.blob, m.index, [{ userId: u.id }]);
      assert.ok(o!.ok && o!.result.mailboxId === inbox.id && o!.result.uid > before.at(-1)!.uid);
    });

    it('subscriptions are separate: they may name mailboxes that do not exist', async () => {
      const s = t.store();
      const u = await makeUser(s);
      await s.subscribe(u.id, 'Nowhere/Yet');
      await s.subscribe(u.id, 'Nowhere/Yet');
      assert.ok((await s.listSubscriptions(u.id)).includes('Nowhere/Yet'));
      const box = await s.createMailbox(u.id, 'Temp');
      await s.subscribe(u.id, 'Temp');
      await s.deleteMailbox(box.id);
      assert.ok((await s.listSubscriptions(u.id)).includes('Temp'), 'deleting a mailbox does not unsubscribe it (RFC 3501 6.3.4)');
      await s.unsubscribe(u.id, 'Temp');
      await s.unsubscribe(u.id, 'Never-subscribed');
      assert.ok(!(await s.listSubscriptions(u.id)).includes('Temp'));
      await s.subscribe(u.id, 'inbox');
      assert.equal((await s.listSubscriptions(u.id)).filter((n) => n === 'INBOX').length, 1);
    });

    it('STATUS counters and quota follow appends, flag changes, expunges, copies and moves', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const inbox = (await s.getMailbox(u.id, 'INBOX'))!;
      const other = await s.createMailbox(u.id, 'Other');
      const sizes: number[] = [];
      for (let i = 0; i < 6; i++) {
        const m = await putMessage(s, { padTo: 100 + i * 37 });
        sizes.push(m.blob.size);
        await s.append(inbox.id, { blob: m.blob, index: m.index, flags: i % 2 ? ['\\Seen'] : [] });
      }
      await s.storeFlags(inbox.id, [1, 2], 'add', ['\\Deleted', '\\Seen']);
      await s.storeFlags(inbox.id, [3], 'remove', ['\\Seen']);
      await s.copy(inbox.id, [1, 4], other.id);
      await s.move(inbox.id, [5], other.id);
      await s.expunge(inbox.id);
      for (const box of [inbox, other]) {
        const msgs = await s.listMessages(box.id);
        const st = await s.mailboxStatus(box.id);
        assert.equal(st.messages, msgs.length);
        assert.equal(st.size, msgs.reduce((a, m) => a + m.size, 0));
        assert.equal(st.unseen, msgs.filter((m) => !m.flags.includes('\\Seen')).length);
        assert.equal(st.deleted, msgs.filter((m) => m.flags.includes('\\Deleted')).length);
        assert.equal(st.highestModseq, Math.max(box.highestModseq, ...msgs.map((m) => m.modseq), ...(await s.changesSince(box.id, 0)).map((c) => c.modseq)));
        assert.ok(st.uidNext > Math.max(0, ...msgs.map((m) => m.uid)));
        assert.equal(st.uidValidity, box.uidValidity);
      }
      const all = [...(await s.listMessages(inbox.id)), ...(await s.listMessages(other.id))];
      const q = await s.quota(u.id);
      assert.equal(q.used, all.reduce((a, m) => a + m.size, 0));
      assert.equal(q.messages, all.length);
      assert.equal(q.limit, 0);
      await assert.rejects(s.mailboxStatus(99999999), code('notFound'));
      await assert.rejects(s.quota(99999999), code('notFound'));
    });
  });
}
