/**
 * imapflow (a real, widely used IMAP client) against mailroom: STARTTLS, IDLE
 * with live EXISTS/flags events, CONDSTORE/QRESYNC resync after another client
 * changed and expunged messages, MOVE with COPYUID, APPEND with APPENDUID,
 * FETCH of source/envelope/bodystructure, SEARCH, and a big message streamed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow, type ExistsEvent, type ExpungeEvent, type FlagsEvent } from 'imapflow';
import { startTestServer, type TestServer } from '../helpers/server.js';

const msg = (n: number, extra = '') =>
  `From: Flow Sender <flow@example.com>\r\nTo: f@example.com\r\nSubject: flow ${n}\r\nDate: Thu, 4 Jan 2024 0${n % 10}:00:00 +0000\r\nMessage-ID: <flow${n}@example.com>\r\n\r\nbody ${n}${extra}\r\n`;

/** JSON for assertion messages (BigInt MODSEQs, Sets and Maps included). */
const show = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x instanceof Set || x instanceof Map ? [...x] : x));

describe('IMAP with imapflow', () => {
  let srv: TestServer;
  const clients: ImapFlow[] = [];

  const client = async (opts: { qresync?: boolean } = {}): Promise<ImapFlow> => {
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: srv.port('imap'),
      secure: false,
      doSTARTTLS: true,
      auth: { user: 'f@example.com', pass: 'pw' },
      logger: false,
      qresync: opts.qresync ?? false,
      tls: { ca: [srv.tls.cert], checkServerIdentity: () => undefined },
    });
    clients.push(c);
    await c.connect();
    return c;
  };

  before(async () => {
    srv = await startTestServer({}, { services: ['imap'] });
    await srv.addUser('f@example.com', 'pw');
    for (let i = 1; i <= 5; i++) await srv.deliver('f@example.com', msg(i));
  });

  after(async () => {
    for (const c of clients) await c.logout().catch(() => c.close());
    await srv?.stop();
  });

  it('logs in over STARTTLS and fetches source, envelope and structure', async () => {
    const c = await client();
    assert.equal(c.secureConnection, true);
    const lock = await c.getMailboxLock('INBOX');
    try {
      const seen: string[] = [];
      for await (const m of c.fetch('1:*', { uid: true, envelope: true, bodyStructure: true, source: true, flags: true, size: true })) {
        assert.equal(m.envelope?.from?.[0]?.address, 'flow@example.com');
        assert.equal(m.bodyStructure?.type, 'text/plain');
        assert.equal(m.size, m.source?.length);
        seen.push(m.envelope?.subject ?? '');
      }
      assert.deepEqual(seen, ['flow 1', 'flow 2', 'flow 3', 'flow 4', 'flow 5']);
      const found = await c.search({ subject: 'flow 3' }, { uid: true });
      assert.deepEqual(found, [3]);
      const list = await c.list();
      assert.ok(list.some((b) => b.specialUse === '\\Trash'));
    } finally {
      lock.release();
    }
  });

  it('appends with flags and date (APPENDUID) and moves (COPYUID)', async () => {
    const c = await client();
    const appended = await c.append('INBOX', msg(6), ['\\Seen', '$Work'], new Date('2023-03-04T05:06:07Z'));
    assert.ok(appended && appended.uid && appended.uidValidity);
    const lock = await c.getMailboxLock('INBOX');
    try {
      const m = await c.fetchOne(String(appended.uid), { flags: true, internalDate: true }, { uid: true });
      assert.ok(m);
      assert.ok(m.flags?.has('\\Seen') && m.flags.has('$Work'));
      assert.equal(new Date(m.internalDate!).toISOString(), '2023-03-04T05:06:07.000Z');
      const moved = await c.messageMove(String(appended.uid), 'Trash', { uid: true });
      assert.ok(moved && moved.uidMap && moved.uidMap.size === 1, show(moved));
      const status = await c.status('Trash', { messages: true });
      assert.ok(status && status.messages === 1, show(status));
    } finally {
      lock.release();
    }
    // A big message goes through the streamed APPEND path and comes back byte for byte.
    const big = msg(7, '\r\n' + 'The quick brown fox jumps over the lazy dog.\r\n'.repeat(60_000));
    const r = await c.append('Drafts', big);
    assert.ok(r && r.uid);
    const lock2 = await c.getMailboxLock('Drafts');
    try {
      const back = await c.fetchOne(String(r.uid), { source: true }, { uid: true });
      assert.ok(back && back.source && back.source.equals(Buffer.from(big)));
    } finally {
      lock2.release();
    }
  });

  it('IDLE delivers EXISTS and flag changes as they happen', async () => {
    const watcher = await client();
    const actor = await client();
    const lock = await watcher.getMailboxLock('INBOX');
    try {
      const exists = new Promise<ExistsEvent>((resolve) => watcher.once('exists', resolve));
      const flags = new Promise<FlagsEvent>((resolve) => watcher.once('flags', resolve));
      const idling = watcher.idle();
      await new Promise((r) => setTimeout(r, 100));
      const t0 = Date.now();
      await srv.deliver('f@example.com', msg(8));
      const ev = await exists;
      assert.ok(Date.now() - t0 < 1000, 'EXISTS within a second');
      assert.equal(ev.count, ev.prevCount + 1);
      const alock = await actor.getMailboxLock('INBOX');
      try {
        await actor.messageFlagsAdd('1', ['\\Flagged']);
      } finally {
        alock.release();
      }
      const f = await flags;
      assert.equal(f.seq, 1);
      assert.ok(f.flags.has('\\Flagged'));
      void idling;
    } finally {
      lock.release();
    }
  });

  it('resynchronises with QRESYNC after another client changed and expunged messages', async () => {
    const a = await client({ qresync: true });
    let lock = await a.getMailboxLock('INBOX');
    const mailbox = a.mailbox;
    assert.ok(mailbox && typeof mailbox !== 'boolean');
    const uidValidity = mailbox.uidValidity;
    const modseq = mailbox.highestModseq!;
    lock.release();
    await a.mailboxClose();

    // Another client changes flags on UID 2, expunges UID 3 and appends one.
    const b = await client();
    const block = await b.getMailboxLock('INBOX');
    try {
      await b.messageFlagsAdd('2', ['$Changed'], { uid: true });
      await b.messageDelete('3', { uid: true });
    } finally {
      block.release();
    }
    await b.append('INBOX', msg(9));

    const vanished: ExpungeEvent[] = [];
    const changed: FlagsEvent[] = [];
    a.on('expunge', (e: ExpungeEvent) => vanished.push(e));
    a.on('flags', (e: FlagsEvent) => changed.push(e));
    lock = await a.getMailboxLock('INBOX', { changedSince: modseq, uidValidity });
    try {
      assert.ok(vanished.some((e) => e.vanished && e.earlier && e.uid === 3), show(vanished));
      assert.ok(changed.some((e) => e.uid === 2 && e.flags.has('$Changed')), show(changed));
      // CONDSTORE: what changed since the old MODSEQ, by UID.
      const since: number[] = [];
      for await (const m of a.fetch('1:*', { uid: true, flags: true }, { uid: true, changedSince: modseq })) since.push(m.uid);
      assert.ok(since.includes(2) && !since.includes(1) && !since.includes(3), show(since));
    } finally {
      lock.release();
    }
  });
});
