/**
 * What only the PostgreSQL backend can show: migrations mirrored from SQLite
 * and run once by nodes starting together, BIGINT as numbers, bad input as
 * StoreError, the LISTEN/NOTIFY bus between two stores (and its reconnect and
 * resync), the lazily loaded body text, lock order under crossing
 * deliveries and expunges on two nodes, atomic tryLock across nodes, the
 * trigram index, and close() letting work in flight commit.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { makeUser, putMessage } from '../contract/fixtures.js';
import { isStoreError } from '../errors.js';
import { LocalBus } from '../bus.js';
import { postgresMigrations } from '../migrations/postgres.js';
import { sqliteMigrations } from '../migrations/sqlite.js';
import type { MailboxChange, Store } from '../types.js';
import { PgBus } from './bus.js';
import { migrate } from './migrate.js';
import { openPostgresStore } from './index.js';
import { createTestDatabase, pgSkipReason, type TestDatabase } from './testing.js';

const skip = await pgSkipReason();

/** Resolves with the first change the predicate accepts, or rejects after ms. */
function waitFor(store: Store, pred: (c: MailboxChange) => boolean, ms = 2000): Promise<MailboxChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching change within ${ms} ms`));
    }, ms);
    const off = store.bus.subscribe((c) => {
      if (!pred(c)) return;
      clearTimeout(timer);
      off();
      resolve(c);
    });
  });
}

describe('postgres store', { skip: skip ?? false }, () => {
  let db: TestDatabase;
  let admin: pg.Client;
  const stores: Store[] = [];
  const open = async (extra: Partial<Parameters<typeof openPostgresStore>[0]> = {}) => {
    const s = await openPostgresStore({ url: db.url, blobs: 'postgres', ...extra });
    stores.push(s);
    return s;
  };

  before(async () => {
    db = await createTestDatabase();
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });
  after(async () => {
    for (const s of stores) await s.close().catch(() => {});
    await admin?.end();
    await db?.drop();
  });

  it('mirrors the SQLite migrations version for version', () => {
    assert.deepEqual(
      postgresMigrations.map((m) => [m.version, m.name]),
      sqliteMigrations.map((m) => [m.version, m.name]),
    );
  });

  it('nodes starting at once on an empty database apply each migration exactly once', async () => {
    const fresh = await createTestDatabase('mailroom_test_mig');
    try {
      const opened = await Promise.all(Array.from({ length: 4 }, () => openPostgresStore({ url: fresh.url, blobs: 'postgres' })));
      const latest = postgresMigrations.at(-1)!.version;
      for (const s of opened) assert.equal(await s.migrate(), latest);
      const c = new pg.Client({ connectionString: fresh.url });
      await c.connect();
      const rows = (await c.query('SELECT version, name FROM schema_version ORDER BY version')).rows;
      assert.deepEqual(
        rows.map((r) => r.version),
        postgresMigrations.map((m) => m.version),
      );
      // v3 mirrors SQLite's blobs.indexed (the texts stay in blobs: TOAST keeps them out of line).
      const cols = (await c.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'blobs' AND column_name = 'indexed'`)).rows;
      assert.equal(cols.length, 1);
      await c.query('INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)', [latest + 100, 'from the future', Date.now()]);
      await c.end();
      for (const s of opened) await s.close();
      await assert.rejects(openPostgresStore({ url: fresh.url, blobs: 'postgres' }), /newer than this mailroom/);
    } finally {
      await fresh.drop();
    }
  });

  it('migration 3 on a version-2 database: blobs.indexed follows index_json, and stays so on later writes', async () => {
    const fresh = await createTestDatabase('mailroom_test_mig3');
    const pool = new pg.Pool({ connectionString: fresh.url, max: 1 });
    try {
      assert.equal(await migrate(pool, postgresMigrations.filter((m) => m.version <= 2)), 2);
      const insert = `INSERT INTO blobs (id, size, refs, index_json, body_text, hdrs_text, created_at) VALUES ($1, 10, 1, $2, $3, $4, 1)`;
      await pool.query(insert, ['a'.repeat(64), '{"subject":"s"}', 'body', 'subject: s']);
      await pool.query(insert, ['b'.repeat(64), null, null, null]);
      assert.equal(await migrate(pool), postgresMigrations.at(-1)!.version);
      const rows = async () => (await pool.query('SELECT id, indexed, body_text FROM blobs ORDER BY id')).rows;
      assert.deepEqual(await rows(), [
        { id: 'a'.repeat(64), indexed: true, body_text: 'body' },
        { id: 'b'.repeat(64), indexed: false, body_text: null },
      ]);
      await pool.query(`UPDATE blobs SET index_json = '{}', body_text = '' WHERE id = $1`, ['b'.repeat(64)]);
      assert.equal((await rows())[1]!.indexed, true);
    } finally {
      await pool.end();
      await fresh.drop();
    }
  });

  it('BIGINT columns come back as numbers; bad input is StoreError, not a crash', async () => {
    const s = await open();
    const u = await makeUser(s);
    const box = (await s.getMailbox(u.id, 'INBOX'))!;
    for (const v of [u.id, box.id, box.uidValidity, box.highestModseq, u.createdAt.getTime()]) assert.equal(typeof v, 'number');
    assert.ok(box.uidValidity > 1_600_000_000);
    const m = await putMessage(s);
    const r = await s.append(box.id, { blob: m.blob, index: m.index, internalDate: new Date('2001-02-03T04:05:06.789Z') });
    const [meta] = await s.listMessages(box.id);
    assert.equal(meta!.internalDate.toISOString(), '2001-02-03T04:05:06.789Z');
    assert.equal(typeof meta!.size, 'number');
    assert.equal(r.uid, 1);
    const q = await s.quota(u.id);
    assert.deepEqual([typeof q.used, typeof q.messages], ['number', 'number']);
    await assert.rejects(s.setSetting('nul', 'a\u0000b'), (e) => isStoreError(e, 'invalid'));
    await assert.rejects(s.addAccessRule('blockHost', 'x\u0000y'), (e) => isStoreError(e, 'invalid'));
    assert.equal(await s.getMailboxById(Number.NaN), null);
    assert.equal(await s.getMailboxById(2 ** 60), null);
    await assert.rejects(s.listMessages(-1), (e) => isStoreError(e, 'notFound'));
  });

  it('getMessages reads the body text lazily, from another thread, exactly', async () => {
    const s = await open();
    const u = await makeUser(s);
    const box = (await s.getMailbox(u.id, 'INBOX'))!;
    const text = 'Grüße, ΣΟΦΙΑ!\r\n'.repeat(5000);
    const m = await putMessage(s, { text });
    await s.append(box.id, { blob: m.blob, index: m.index });
    const [rec] = await s.getMessages(box.id, [1]);
    assert.equal(rec!.index.text, m.index.text);
    assert.equal(rec!.index.subject, m.index.subject);
  });

  it('a change on one node is heard on the other within a second, once; the own node hears it at once', async () => {
    const a = await open();
    const b = await open();
    const u = await makeUser(a);
    const box = (await a.getMailbox(u.id, 'INBOX'))!;
    const onA: MailboxChange[] = [];
    const onB: MailboxChange[] = [];
    const offA = a.bus.subscribe((c) => c.mailboxId === box.id && onA.push(c));
    const offB = b.bus.subscribe((c) => c.mailboxId === box.id && onB.push(c));
    const m = await putMessage(a);
    const heard = waitFor(b, (c) => c.mailboxId === box.id && c.kind === 'append', 1000);
    const t0 = Date.now();
    const [o] = await a.deliver(m.blob, m.index, [{ userId: u.id }]);
    assert.equal(onA.length, 1, 'the publishing node hears it when deliver() resolves');
    const c = await heard;
    assert.ok(Date.now() - t0 < 1000);
    assert.deepEqual(c, { mailboxId: box.id, userId: u.id, highestModseq: o!.ok ? o!.result.modseq : -1, kind: 'append' });
    await a.storeFlags(box.id, [1], 'add', ['\\Seen']);
    await waitFor(b, (x) => x.mailboxId === box.id && x.kind === 'flags');
    await sleep(200);
    offA();
    offB();
    assert.deepEqual(
      onA.map((x) => x.kind),
      ['append', 'flags'],
      'no echo of its own notifications',
    );
    assert.deepEqual(
      onB.map((x) => x.kind),
      ['append', 'flags'],
    );
  });

  it('the LISTEN connection comes back after it is killed, and tracked mailboxes that moved meanwhile are announced', async () => {
    const a = await open();
    const b = await open();
    const bus = b.bus as PgBus;
    await bus.ready;
    const u = await makeUser(a);
    const box = (await a.getMailbox(u.id, 'INBOX'))!;
    await b.listMessages(box.id); // a session on b SELECTs the mailbox
    const pid = bus.listenerPid;
    assert.ok(pid);
    const reconnected = new Promise<void>((r) => {
      const off = bus.onReconnect(() => {
        off();
        r();
      });
    });
    const announced = waitFor(b, (c) => c.mailboxId === box.id && c.kind === 'mailbox', 8000);
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    // Delivered on a while b is deaf (before it reconnects).
    const m = await putMessage(a);
    const [o] = await a.deliver(m.blob, m.index, [{ userId: u.id }]);
    await reconnected;
    assert.notEqual(bus.listenerPid, pid);
    const c = await announced;
    assert.ok(o!.ok && c.highestModseq >= o!.result.modseq, 'the resync carries the mailbox state after the missed delivery');
    // And live notifications flow again.
    const again = waitFor(b, (x) => x.mailboxId === box.id && x.kind === 'flags', 2000);
    await a.storeFlags(box.id, [1], 'add', ['\\Flagged']);
    await again;
  });

  it('a store given a bus publishes there and opens no LISTEN connection', async () => {
    const listening = async () =>
      (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'mailroom-bus'`, [db.name])).rows[0].n as number;
    const before = await listening();
    const local = new LocalBus();
    const s = await open({ bus: local });
    assert.equal(s.bus, local);
    const u = await makeUser(s);
    const seen: MailboxChange[] = [];
    local.subscribe((c) => seen.push(c));
    await s.createMailbox(u.id, 'Via local bus');
    assert.equal(seen.length, 1);
    assert.equal(await listening(), before);
  });

  it('crossing deliveries, copies and expunges on two nodes never deadlock and keep every counter right', async () => {
    const a = await open({ poolSize: 4 });
    const b = await open({ poolSize: 4 });
    const users = [await makeUser(a), await makeUser(a), await makeUser(a)];
    const inboxes = await Promise.all(users.map(async (u) => (await a.getMailbox(u.id, 'INBOX'))!));
    const shared = await Promise.all(Array.from({ length: 6 }, (_, i) => putMessage(a, { subject: `shared ${i}` })));
    const ops: Array<Promise<unknown>> = [];
    for (let round = 0; round < 8; round++) {
      const node = round % 2 ? a : b;
      const m = shared[round % shared.length]!;
      const order = round % 2 ? users : [...users].reverse();
      ops.push(node.deliver(m.blob, m.index, order.map((u) => ({ userId: u.id }))));
      ops.push(node.copy(inboxes[round % 3]!.id, [1, 2, 3], inboxes[(round + 1) % 3]!.id));
      ops.push(node.storeFlags(inboxes[(round + 2) % 3]!.id, [1, 2, 3, 4], 'add', ['\\Deleted']));
      ops.push(node.expunge(inboxes[(round + 1) % 3]!.id));
    }
    const results = await Promise.allSettled(ops);
    const failures = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    assert.deepEqual(
      failures.map((f) => String(f.reason)),
      [],
    );
    for (const box of inboxes) {
      const list = await a.listMessages(box.id);
      const st = await b.mailboxStatus(box.id);
      assert.equal(st.messages, list.length);
      assert.equal(st.size, list.reduce((n, x) => n + x.size, 0));
      assert.equal(st.deleted, list.filter((x) => x.flags.includes('\\Deleted')).length);
      assert.equal(st.unseen, list.filter((x) => !x.flags.includes('\\Seen')).length);
      assert.ok(list.every((x, i) => i === 0 || x.uid > list[i - 1]!.uid));
    }
    // Blob references equal the message rows holding them.
    const refs = await admin.query(
      `SELECT b.id, b.refs, (SELECT count(*) FROM messages m WHERE m.blob_id = b.id)::int + (SELECT count(*) FROM queue q WHERE q.blob_id = b.id)::int AS held
       FROM blobs b WHERE b.id = ANY($1)`,
      [shared.map((m) => m.blob.id)],
    );
    for (const r of refs.rows) assert.equal(Number(r.refs), r.held, `refs of ${r.id}`);
  });

  it('tryLock is atomic across nodes: of many racing owners exactly one wins', async () => {
    const a = await open();
    const b = await open();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).tryLock('race:1', `owner-${i}`, 60_000)));
    assert.equal(results.filter(Boolean).length, 1);
    const winner = `owner-${results.indexOf(true)}`;
    assert.equal(await a.tryLock('race:1', winner, 60_000), true);
    await b.unlock('race:1', winner);
    assert.equal(await a.tryLock('race:1', 'owner-x', 60_000), true);
  });

  it('substring search can use the pg_trgm GIN indexes', async () => {
    const s = await open();
    const u = await makeUser(s);
    const box = (await s.getMailbox(u.id, 'INBOX'))!;
    for (let i = 0; i < 30; i++) {
      const m = await putMessage(s, { subject: `filler ${i}`, text: i === 17 ? 'the quokka report\r\n' : `nothing ${i}\r\n` });
      await s.deliver(m.blob, m.index, [{ userId: u.id }]);
    }
    assert.deepEqual(await s.search(box.id, { op: 'body', value: 'QUOKKA' }), [18]);
    await admin.query('BEGIN');
    try {
      await admin.query('SET LOCAL enable_seqscan = off');
      const plan = (await admin.query(`EXPLAIN SELECT seq FROM blob_search WHERE body LIKE '%quokka%'`)).rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.match(plan, /blob_search_body/);
    } finally {
      await admin.query('ROLLBACK');
    }
  });

  it('after the server drops every connection (a restart), the next put, delivery and read just work', async () => {
    const s = await open();
    const u = await makeUser(s);
    const box = (await s.getMailbox(u.id, 'INBOX'))!;
    for (let round = 0; round < 3; round++) {
      // Fill the pool with idle connections, then have the server end them all.
      await Promise.all([s.getUser(u.id), s.getUser(u.id), s.getUser(u.id), s.listMessages(box.id)]);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.name]);
      const m = await putMessage(s, { subject: `after restart ${round}` });
      const [o] = await s.deliver(m.blob, m.index, [{ userId: u.id }]);
      assert.equal(o!.ok, true);
      assert.equal((await s.getUser(u.id))?.id, u.id);
      assert.deepEqual(await s.blobs.read(m.blob.id), m.raw);
    }
    assert.equal((await s.listMessages(box.id)).length, 3);
  });

  it('close() lets a delivery in flight commit', async () => {
    const s = await openPostgresStore({ url: db.url, blobs: 'postgres' });
    const u = await makeUser(s);
    const m = await putMessage(s, { subject: 'in flight at close' });
    const pending = s.deliver(m.blob, m.index, [{ userId: u.id }]);
    await s.close();
    const [out] = await pending;
    assert.equal(out!.ok, true);
    const s2 = await open();
    const box = (await s2.getMailbox(u.id, 'INBOX'))!;
    assert.deepEqual((await s2.listMessages(box.id)).map((x) => x.uid), [1]);
  });
});
