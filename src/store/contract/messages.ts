/**
 * Contract: append, deliver, getMessages/listMessages, STORE (CONDSTORE),
 * EXPUNGE, COPY, MOVE, the change log, POP3 retrieval marks, bus events,
 * parallel writers and failed transactions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStoreError } from '../errors.js';
import type { AppendResult, MailboxChange, Store } from '../types.js';
import { makeUser, putMessage } from './fixtures.js';
import type { ContractContext } from './suite.js';

const code = (c: string) => (e: unknown) => isStoreError(e, c as never);

async function inboxOf(s: Store, userId: number) {
  return (await s.getMailbox(userId, 'INBOX'))!;
}

export function messagesContract(t: ContractContext): void {
  describe('append and deliver', () => {
    it('append: UIDs and MODSEQs strictly increase; flags normalised; internal date kept', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const box = await inboxOf(s, u.id);
      const date = new Date('2023-05-06T07:08:09.000Z');
      const m1 = await putMessage(s);
      const r1 = await s.append(box.id, { blob: m1.blob, index: m1.index, flags: ['\\SEEN', '$Label1', '\\flagged', '$label1', '\\Recent'], internalDate: date });
      const m2 = await putMessage(s);
      const r2 = await s.append(box.id, { blob: m2.blob, index: m2.index });
      assert.equal(r1.mailboxId, box.id);
      assert.equal(r1.uidValidity, box.uidValidity);
      assert.ok(r1.uid >= 1 && r2.uid > r1.uid);
      assert.ok(r1.modseq > box.highestModseq && r2.modseq > r1.modseq);
      const list = await s.listMessages(box.id);
      assert.deepEqual(list.map((m) => m.uid), [r1.uid, r2.uid]);
      assert.deepEqual([...list[0]!.flags].sort(), ['$Label1', '\\Flagged', '\\Seen'].sort());
      assert.equal(list[0]!.internalDate.getTime(), date.getTime());
      assert.equal(list[0]!.size, m1.blob.size);
      assert.equal(list[0]!.blobId, m1.blob.id);
      assert.equal(list[0]!.modseq, r1.modseq);
      assert.deepEqual(list[1]!.flags, []);
      const st = await s.mailboxStatus(box.id);
      assert.equal(st.uidNext, r2.uid + 1);
      assert.equal(st.highestModseq, r2.modseq);
      await assert.rejects(s.append(99999999, { blob: m1.blob, index: m1.index }), code('notFound'));
      await assert.rejects(s.append(box.id, { blob: m1.blob, index: m1.index, flags: ['bad keyword'] }), code('invalid'));
    });

    it('getMessages: any order in, UID order out, missing UIDs skipped, index intact', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const box = await inboxOf(s, u.id);
      const ms: Array<Awaited<ReturnType<typeof putMessage>>> = [];
      for (let i = 0; i < 4; i++) {
        const m = await putMessage(s, { subject: `Subject ${i} ünïcödé`, text: `Body ${i}\r\nline two\r\n` });
        await s.append(box.id, { blob: m.blob, index: m.index, flags: ['\\Answered'] });
        ms.push(m);
      }
      const got = await s.getMessages(box.id, [4, 2, 999, 1]);
      assert.deepEqual(got.map((g) => g.uid), [1, 2, 4]);
      assert.deepEqual(JSON.parse(JSON.stringify(got[0]!.index)), JSON.parse(JSON.stringify(ms[0]!.index)));
      assert.equal(got[2]!.index.text, ms[3]!.index.text);
      assert.deepEqual(got[1]!.index.headers, ms[1]!.index.headers);
      assert.deepEqual(got[1]!.index.body, ms[1]!.index.body);
      assert.deepEqual(got[1]!.flags, ['\\Answered']);
      assert.deepEqual(await s.getMessages(box.id, []), []);
      // The stored bytes are reachable through the blob id.
      assert.deepEqual(await s.blobs.read(got[0]!.blobId), ms[0]!.raw);
    });

    it('getMessageMetas: exactly getMessages without the index (flags, keywords, modseq after STORE and EXPUNGE)', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const box = await inboxOf(s, u.id);
      const date = new Date('2024-03-01T10:20:30Z');
      for (let i = 0; i < 5; i++) {
        const m = await putMessage(s, { subject: `Meta ${i}`, text: `Body ${i}\r\n` });
        await s.append(box.id, { blob: m.blob, index: m.index, flags: i % 2 ? ['\\Seen', 'Work'] : [], internalDate: date });
      }
      await s.storeFlags(box.id, [2, 3], 'add', ['\\Flagged', '$Label1']);
      await s.expunge(box.id, [4]);
      const strip = (recs: Awaited<ReturnType<Store['getMessages']>>) =>
        recs.map((r) => ({ uid: r.uid, modseq: r.modseq, flags: r.flags, internalDate: r.internalDate, size: r.size, blobId: r.blobId }));
      const asked = [5, 1, 4, 999, 3, 2, 2];
      const metas = await s.getMessageMetas(box.id, asked);
      assert.deepEqual(metas.map((m) => m.uid), [1, 2, 3, 5]);
      assert.deepEqual(metas, strip(await s.getMessages(box.id, asked)));
      assert.deepEqual(metas[0]!.internalDate, date);
      assert.ok(metas[1]!.flags.includes('\\Flagged') && metas[1]!.flags.includes('$Label1'));
      // The same rows listMessages gives for those UIDs.
      const listed = (await s.listMessages(box.id)).filter((m) => [1, 2, 3, 5].includes(m.uid));
      assert.deepEqual(metas, listed);
      assert.deepEqual(await s.getMessageMetas(box.id, []), []);
      assert.deepEqual(await s.getMessageMetas(box.id, [0, -1, 1.5]), strip(await s.getMessages(box.id, [0, -1, 1.5])));
      assert.deepEqual(await s.getMessageMetas(99999999, [1]), []);
    });

    it('deliver: one transaction, one UID per target, the index stored once and shared, per-target outcomes', async () => {
      const s = t.store();
      const a = await makeUser(s);
      const b = await makeUser(s, { quota: 10 });
      const c = await makeUser(s);
      await s.updateUser(c.id, { enabled: false });
      const d = await makeUser(s);
      const dWork = await s.createMailbox(d.id, 'Work');
      const m = await putMessage(s, { subject: 'to many' });
      const events: MailboxChange[] = [];
      const off = s.bus.subscribe((e) => events.push(e));
      const out = await s.deliver(m.blob, m.index, [
        { userId: a.id },
        { userId: b.id },
        { userId: c.id },
        { userId: 99999999 },
        { userId: d.id, mailbox: 'Work', flags: ['\\Flagged', 'Important'] },
        { userId: d.id, mailbox: 'Missing' },
        { userId: a.id, mailbox: 'Junk' },
      ]);
      off();
      assert.equal(out.length, 7);
      assert.equal(out[0]!.ok, true);
      assert.deepEqual(out[1], { ok: false, code: 'overQuota', message: (out[1] as { message: string }).message });
      assert.equal(!out[2]!.ok && out[2]!.code, 'disabled');
      assert.equal(!out[3]!.ok && out[3]!.code, 'noSuchUser');
      assert.equal(out[4]!.ok && out[4]!.result.mailboxId, dWork.id);
      assert.equal(!out[5]!.ok && out[5]!.code, 'noSuchMailbox');
      assert.equal(out[6]!.ok, true);
      const aInbox = await inboxOf(s, a.id);
      assert.equal(out[0]!.ok && out[0]!.result.mailboxId, aInbox.id);
      const [ra] = await s.getMessages(aInbox.id, [out[0]!.ok ? out[0]!.result.uid : 0]);
      const [rd] = await s.getMessages(dWork.id, [out[4]!.ok ? out[4]!.result.uid : 0]);
      assert.equal(ra!.blobId, m.blob.id);
      assert.equal(rd!.blobId, m.blob.id);
      assert.equal(ra!.index.subject, 'to many');
      assert.deepEqual(rd!.index.headers, m.index.headers);
      assert.deepEqual(rd!.flags, ['\\Flagged', 'Important']);
      assert.deepEqual(await s.listMessages(await inboxOf(s, b.id).then((x) => x.id)), []);
      assert.ok(events.some((e) => e.mailboxId === aInbox.id && e.kind === 'append' && e.userId === a.id));
      assert.ok(events.some((e) => e.mailboxId === dWork.id && e.kind === 'append'));
    });

    it('quota is checked per user against the sum of message sizes (0 = unlimited)', async () => {
      const s = t.store();
      const m = await putMessage(s, { padTo: 400 });
      const u = await makeUser(s, { quota: m.blob.size * 2 + 10 });
      const box = await inboxOf(s, u.id);
      await s.append(box.id, { blob: m.blob, index: m.index });
      const [o2] = await s.deliver(m.blob, m.index, [{ userId: u.id }]);
      assert.equal(o2!.ok, true);
      const [o3] = await s.deliver(m.blob, m.index, [{ userId: u.id }]);
      assert.equal(!o3!.ok && o3!.code, 'overQuota');
      await assert.rejects(s.append(box.id, { blob: m.blob, index: m.index }), code('overQuota'));
      const other = await s.createMailbox(u.id, 'Other');
      await assert.rejects(s.copy(box.id, [1], other.id), code('overQuota'));
      // Moving within the user's own mailboxes does not grow usage.
      const mv = await s.move(box.id, [1], other.id);
      assert.equal(mv.mapping.length, 1);
      const q = await s.quota(u.id);
      assert.equal(q.used, m.blob.size * 2);
      assert.equal(q.messages, 2);
      assert.equal(q.limit, m.blob.size * 2 + 10);
      await s.updateUser(u.id, { quota: 0 });
      const [o4] = await s.deliver(m.blob, m.index, [{ userId: u.id }]);
      assert.equal(o4!.ok, true);
    });

    it('parallel delivers to one mailbox get distinct, increasing UIDs', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const msgs = await Promise.all(Array.from({ length: 40 }, (_, i) => putMessage(s, { subject: `parallel ${i}` })));
      const outs = await Promise.all(msgs.map((m) => s.deliver(m.blob, m.index, [{ userId: u.id }])));
      const uids = outs.map((o) => (o[0]!.ok ? o[0]!.result.uid : -1));
      assert.equal(new Set(uids).size, 40);
      assert.ok(uids.every((x) => x > 0));
      const modseqs = outs.map((o) => (o[0]!.ok ? o[0]!.result.modseq : -1));
      assert.equal(new Set(modseqs).size, 40);
      const box = await inboxOf(s, u.id);
      assert.equal((await s.listMessages(box.id)).length, 40);
      assert.equal((await s.mailboxStatus(box.id)).messages, 40);
    });

    it('parallel delivers through two connections to the same data get distinct UIDs', async () => {
      const other = await t.openAnother();
      const s = t.store();
      const u = await makeUser(s);
      const msgs = await Promise.all(Array.from({ length: 30 }, (_, i) => putMessage(s, { subject: `two conns ${i}` })));
      const outs = await Promise.all(msgs.map((m, i) => (i % 2 ? s : other).deliver(m.blob, m.index, [{ userId: u.id }])));
      const uids = outs.map((o) => (o[0]!.ok ? o[0]!.result.uid : -1));
      assert.equal(new Set(uids).size, 30);
      const box = await inboxOf(s, u.id);
      assert.equal((await other.mailboxStatus(box.id)).messages, 30);
      assert.deepEqual((await s.listMessages(box.id)).map((m) => m.uid), [...uids].sort((a, b) => a - b));
    });
  });

  describe('flags (STORE, CONDSTORE)', () => {
    it('add, remove, replace; system flags case-insensitive and canonical; keywords as given, no duplicates', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const box = await inboxOf(s, u.id);
      for (let i = 0; i < 3; i++) {
        const m = await putMessage(s);
        await s.append(box.id, { blob: m.blob, index: m.index });
      }
      const r1 = await s.storeFlags(box.id, [1, 2], 'add', ['\\seen', 'Work', 'WORK']);
      assert.deepEqual(r1.modified, []);
      assert.deepEqual(r1.updated.map((x) => x.uid), [1, 2]);
      assert.equal(r1.updated[0]!.modseq, r1.updated[1]!.modseq, 'one STORE, one MODSEQ');
      assert.deepEqual([...r1.updated[0]!.flags].sort(), ['Work', '\\Seen'].sort());
      const r2 = await s.storeFlags(box.id, [1], 'add', ['work', '\\SEEN', 'Other']);
      assert.deepEqual([...r2.updated[0]!.flags].sort(), ['Other', 'Work', '\\Seen'].sort());
      const r3 = await s.storeFlags(box.id, [1], 'remove', ['WORK', '\\seen']);
      assert.deepEqual(r3.updated[0]!.flags, ['Other']);
      const r4 = await s.storeFlags(box.id, [1, 3], 'replace', ['\\Draft', '\\Answered']);
      assert.deepEqual([...r4.updated[0]!.flags].sort(), ['\\Answered', '\\Draft']);
      const list = await s.listMessages(box.id);
      assert.deepEqual([...list[0]!.flags].sort(), ['\\Answered', '\\Draft']);
      assert.deepEqual([...list[1]!.flags].sort(), ['Work', '\\Seen'].sort());
      assert.equal(list[0]!.modseq, r4.updated[0]!.modseq);
      assert.ok(r4.updated[0]!.modseq > r3.updated[0]!.modseq && r3.updated[0]!.modseq > r2.updated[0]!.modseq);
      // Unknown UIDs are ignored.
      const r5 = await s.storeFlags(box.id, [77], 'add', ['\\Seen']);
      assert.deepEqual(r5, { updated: [], modified: [] });
      await assert.rejects(s.storeFlags(box.id, [1], 'add', ['two words']), code('invalid'));
      assert.deepEqual([...(await s.listMessages(box.id))[0]!.flags].sort(), ['\\Answered', '\\Draft'], 'a refused STORE changed nothing');
    });

    it('a STORE that changes nothing does not bump MODSEQ', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const box = await inboxOf(s, u.id);
      const m = await putMessage(s);
      await s.append(box.id, { blob: m.blob, index: m.index, flags: ['\\Seen'] });
      const before = await s.mailboxStatus(box.id);
      const events: MailboxChange[] = [];
      const off = s.bus.subscribe((e) => events.push(e));
      const r = await s.storeFlags(box.id, [1], 'add', ['\\Seen']);
      const r2 = await s.storeFlags(box.id, [1], 'remove', ['\\Flagged']);
      const r3 = await s.storeFlags(box.id, [1], 'replace', ['\\seen']);
      off();
      assert.deepEqual(r.updated, []);
      assert.deepEqual(r2.updated, []);
      assert.deepEqual(r3.updated, []);
      assert.equal((await s.mailboxStatus(box.id)).highestModseq, before.highestModseq);
      assert.deepEqual(events.filter((e) => e.mailboxId === box.id), []);
    });

    it('UNCHANGEDSINCE: messages changed after it are not touched and come back as modified', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const box = await inboxOf(s, u.id);
      for (let i = 0; i < 3; i++) {
        const m = await putMessage(s);
        await s.append(box.id, { blob: m.blob, index: m.index });
      }
      const base = (await s.mailboxStatus(box.id)).highestModseq;
      await s.storeFlags(box.id, [2], 'add', ['\\Flagged']);
      const r = await s.storeFlags(box.id, [1, 2, 3], 'add', ['\\Seen'], { unchangedSince: base });
      assert.deepEqual(r.modified, [2]);
      assert.deepEqual(r.updated.map((x) => x.uid), [1, 3]);
      const list = await s.listMessages(box.id);
      assert.deepEqual(list[1]!.flags, ['\\Flagged']);
      const r0 = await s.storeFlags(box.id, [1], 'add', ['\\Deleted'], { unchangedSince: 0 });
      assert.deepEqual(r0, { updated: [], modified: [1] }, 'UNCHANGEDSINCE 0 always fails (RFC 7162 3.1.3)');
    });
  });

  describe('expunge, copy, move, change log', () => {
    it('expunge without UIDs removes \\Deleted messages; with UIDs removes those; UIDs are never reused', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const box = await inboxOf(s, u.id);
      for (let i = 0; i < 5; i++) {
        const m = await putMessage(s);
        await s.append(box.id, { blob: m.blob, index: m.index, flags: i % 2 ? ['\\Deleted'] : [] });
      }
      const events: MailboxChange[] = [];
      const off = s.bus.subscribe((e) => events.push(e));
      const e1 = await s.expunge(box.id);
      off();
      assert.deepEqual(e1.uids, [2, 4]);
      assert.equal(e1.modseq, (await s.mailboxStatus(box.id)).highestModseq);
      assert.ok(events.some((e) => e.kind === 'expunge' && e.mailboxId === box.id && e.highestModseq === e1.modseq));
      const e2 = await s.expunge(box.id, [5, 3, 42]);
      assert.deepEqual(e2.uids, [3, 5]);
      assert.ok(e2.modseq > e1.modseq);
      const e3 = await s.expunge(box.id);
      assert.deepEqual(e3, { uids: [], modseq: e2.modseq }, 'nothing to expunge: no new MODSEQ');
      assert.deepEqual((await s.listMessages(box.id)).map((m) => m.uid), [1]);
      const m = await putMessage(s);
      const r = await s.append(box.id, { blob: m.blob, index: m.index });
      assert.equal(r.uid, 6);
    });

    it('changesSince reports appends, flag changes and expunges in MODSEQ order; expunges stay', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const box = await inboxOf(s, u.id);
      const start = box.highestModseq;
      const rs: AppendResult[] = [];
      for (let i = 0; i < 3; i++) {
        const m = await putMessage(s);
        rs.push(await s.append(box.id, { blob: m.blob, index: m.index }));
      }
      const f = await s.storeFlags(box.id, [1, 2], 'add', ['\\Seen']);
      const x = await s.expunge(box.id, [2]);
      const f2 = await s.storeFlags(box.id, [1], 'add', ['\\Flagged']);
      const all = await s.changesSince(box.id, start);
      const sorted = [...all].sort((a, b) => a.modseq - b.modseq || a.uid - b.uid);
      assert.deepEqual(all, sorted);
      assert.ok(all.every((c) => c.modseq > start));
      assert.ok(all.some((c) => c.uid === 3 && c.kind === 'append' && c.modseq === rs[2]!.modseq));
      assert.ok(all.some((c) => c.uid === 2 && c.kind === 'expunge' && c.modseq === x.modseq));
      assert.ok(all.some((c) => c.uid === 1 && c.kind === 'flags' && c.modseq === f2.updated[0]!.modseq));
      assert.ok(!all.some((c) => c.uid === 2 && c.kind !== 'expunge'), 'an expunged message reports only its expunge');
      const late = await s.changesSince(box.id, f.updated[0]!.modseq);
      assert.deepEqual(
        late.map((c) => [c.uid, c.kind]),
        [
          [2, 'expunge'],
          [1, 'flags'],
        ],
      );
      assert.deepEqual(await s.changesSince(box.id, f2.updated[0]!.modseq), []);
      await assert.rejects(s.changesSince(99999999, 0), code('notFound'));
    });

    it('copy keeps flags, dates and blobs, assigns new UIDs in source order; move also expunges the source', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const src = await inboxOf(s, u.id);
      const dst = await s.createMailbox(u.id, 'Dest');
      const date = new Date('2022-02-02T02:02:02Z');
      for (let i = 0; i < 4; i++) {
        const m = await putMessage(s);
        await s.append(src.id, { blob: m.blob, index: m.index, flags: i === 2 ? ['\\Flagged', 'kw'] : [], internalDate: date });
      }
      const c = await s.copy(src.id, [3, 1, 99], dst.id);
      assert.equal(c.uidValidity, dst.uidValidity);
      assert.deepEqual(c.mapping, [
        [1, 1],
        [3, 2],
      ]);
      const d = await s.listMessages(dst.id);
      const srcList = await s.listMessages(src.id);
      assert.deepEqual(d.map((m) => m.blobId), [srcList[0]!.blobId, srcList[2]!.blobId]);
      assert.deepEqual(d[1]!.flags, ['\\Flagged', 'kw']);
      assert.equal(d[1]!.internalDate.getTime(), date.getTime());
      assert.equal(srcList.length, 4, 'copy leaves the source alone');
      const [rec] = await s.getMessages(dst.id, [2]);
      assert.deepEqual(rec!.index.headers, (await s.getMessages(src.id, [3]))[0]!.index.headers);
      const seen: MailboxChange[] = [];
      const off = s.bus.subscribe((e) => seen.push(e));
      const mv = await s.move(src.id, [2, 4], dst.id);
      await s.storeFlags(dst.id, [1], 'add', ['\\Seen']);
      off();
      assert.ok(seen.some((e) => e.mailboxId === dst.id && e.kind === 'append'), 'MOVE publishes the append in the target');
      assert.ok(seen.some((e) => e.mailboxId === src.id && e.kind === 'expunge' && e.highestModseq === mv.expungeModseq), 'and the expunge in the source');
      assert.ok(seen.some((e) => e.mailboxId === dst.id && e.kind === 'flags' && e.userId === u.id), 'STORE publishes a flags change');
      assert.deepEqual(mv.mapping, [
        [2, 3],
        [4, 4],
      ]);
      assert.equal(mv.expungeModseq, (await s.mailboxStatus(src.id)).highestModseq);
      assert.deepEqual((await s.listMessages(src.id)).map((m) => m.uid), [1, 3]);
      assert.deepEqual((await s.listMessages(dst.id)).map((m) => m.uid), [1, 2, 3, 4]);
      const vanished = (await s.changesSince(src.id, 0)).filter((x) => x.kind === 'expunge').map((x) => x.uid);
      assert.deepEqual(vanished, [2, 4]);
      assert.deepEqual(await s.copy(src.id, [], dst.id), { uidValidity: dst.uidValidity, mapping: [] });
      await assert.rejects(s.copy(src.id, [1], 99999999), code('notFound'));
    });

    it('POP3 retrieval marks: the first retrieval time counts', async () => {
      const s = t.store();
      const u = await makeUser(s);
      const box = await inboxOf(s, u.id);
      for (let i = 0; i < 3; i++) {
        const m = await putMessage(s);
        await s.append(box.id, { blob: m.blob, index: m.index });
      }
      await s.markRetrieved(box.id, [1, 2], new Date('2024-01-01T00:00:00Z'));
      await s.markRetrieved(box.id, [2, 3], new Date('2024-03-01T00:00:00Z'));
      assert.deepEqual(await s.listRetrievedBefore(box.id, new Date('2024-02-01T00:00:00Z')), [1, 2]);
      assert.deepEqual(await s.listRetrievedBefore(box.id, new Date('2024-04-01T00:00:00Z')), [1, 2, 3]);
      assert.deepEqual(await s.listRetrievedBefore(box.id, new Date('2023-01-01T00:00:00Z')), []);
    });
  });

  describe('failed transactions leave nothing', () => {
    it('an over-quota append, a refused STORE and an over-quota copy change no row, counter, MODSEQ or blob reference', async () => {
      const s = t.store();
      const m = await putMessage(s, { padTo: 300 });
      const u = await makeUser(s, { quota: m.blob.size + 1 });
      const box = await inboxOf(s, u.id);
      await s.append(box.id, { blob: m.blob, index: m.index });
      const snapshot = async () => ({
        status: await s.mailboxStatus(box.id),
        list: await s.listMessages(box.id),
        changes: await s.changesSince(box.id, 0),
        quota: await s.quota(u.id),
      });
      const before = await snapshot();
      const events: MailboxChange[] = [];
      const off = s.bus.subscribe((e) => events.push(e));
      const fresh = await putMessage(s, { padTo: 50 });
      await assert.rejects(s.append(box.id, { blob: fresh.blob, index: fresh.index }), code('overQuota'));
      await assert.rejects(s.storeFlags(box.id, [1], 'add', ['\\Seen', 'bad\u0001']), code('invalid'));
      await assert.rejects(s.copy(box.id, [1], box.id), code('overQuota'));
      off();
      assert.deepEqual(await snapshot(), before);
      assert.deepEqual(events, [], 'nothing is published for a rolled-back change');
      // The fresh blob was never referenced: GC may remove it.
      await s.collectGarbage(0);
      assert.equal(await s.blobs.has(fresh.blob.id), false);
      assert.equal(await s.blobs.has(m.blob.id), true);
    });
  });
}
