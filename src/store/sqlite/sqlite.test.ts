/**
 * What only the SQLite backend can show: its pragmas, the migration runner,
 * persistence across reopen, several processes writing one file at once, and
 * durability of acknowledged deliveries across kill -9.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createDirBlobStore } from '../blobs/dir.js';
import { LocalBus } from '../bus.js';
import { makeUser, putMessage } from '../contract/fixtures.js';
import { sqliteMigrations } from '../migrations/sqlite.js';
import type { Store } from '../types.js';
import { openDatabase } from './db.js';
import { migrate } from './migrate.js';
import type { SearchKey } from '../../core/search-key.js';
import { openSqliteStore, type SqliteStore } from './index.js';
import { INDEXED_TEXT_CHARS } from './search-index.js';

const here = dirname(fileURLToPath(import.meta.url));
const worker = join(here, 'test-worker.ts');

function runWorker(args: string[], onLine?: (line: string, kill: () => void) => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; lines: string[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', worker, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let buf = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        onLine?.(line, () => child.kill('SIGKILL'));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, lines, stderr }));
  });
}

describe('sqlite store', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mailroom-sqlite-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const open = (name: string): Promise<Store> =>
    openSqliteStore({ path: join(dir, `${name}.db`), blobs: createDirBlobStore(join(dir, `${name}-blobs`)), bus: new LocalBus() });

  it('opens with WAL, synchronous=FULL, foreign keys and a busy timeout', () => {
    const db = openDatabase(join(dir, 'pragmas.db'));
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('synchronous', { simple: true }), 2);
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
      assert.ok((db.pragma('busy_timeout', { simple: true }) as number) >= 1000);
    } finally {
      db.close();
    }
  });

  it('records migrations in schema_version, applies each once, and refuses a newer schema', async () => {
    const s = await open('migrate');
    const latest = sqliteMigrations.at(-1)!.version;
    assert.equal(await s.migrate(), latest);
    await s.close();
    const s2 = await open('migrate');
    assert.equal(await s2.migrate(), latest);
    await s2.close();
    const raw = new Database(join(dir, 'migrate.db'));
    const rows = raw.prepare('SELECT version, name FROM schema_version ORDER BY version').all() as Array<{ version: number; name: string }>;
    assert.deepEqual(
      rows.map((r) => r.version),
      sqliteMigrations.map((m) => m.version),
    );
    raw.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(latest + 100, 'from the future', Date.now());
    raw.close();
    await assert.rejects(open('migrate'), /newer than this mailroom/);
  });

  it('migration 3 moves the blob texts of a version-2 database into blob_index', () => {
    const db = openDatabase(join(dir, 'v2.db'));
    try {
      assert.equal(migrate(db, sqliteMigrations.filter((m) => m.version <= 2)), 2);
      const insert = db.prepare(
        `INSERT INTO blobs (id, size, refs, released_at, index_json, body_text, hdrs_text, sent_day, created_at, search_state)
         VALUES (?, 10, ?, NULL, ?, ?, ?, '2024-01-02', 1, ?)`,
      );
      insert.run('a'.repeat(64), 1, '{"subject":"s"}', 'body text', 'subject: s', 1);
      insert.run('b'.repeat(64), 0, null, null, null, 0);
      assert.equal(migrate(db), sqliteMigrations.at(-1)!.version);
      const blobs = db.prepare('SELECT id, refs, indexed, search_state, sent_day FROM blobs ORDER BY id').all();
      assert.deepEqual(blobs, [
        { id: 'a'.repeat(64), refs: 1, indexed: 1, search_state: 1, sent_day: '2024-01-02' },
        { id: 'b'.repeat(64), refs: 0, indexed: 0, search_state: 0, sent_day: '2024-01-02' },
      ]);
      assert.deepEqual(db.prepare('SELECT hdrs_text, index_json, body_text FROM blob_index').all(), [
        { hdrs_text: 'subject: s', index_json: '{"subject":"s"}', body_text: 'body text' },
      ]);
      assert.equal((db.pragma('foreign_key_check') as unknown[]).length, 0);
    } finally {
      db.close();
    }
  });

  it('listMessages reads a mailbox bigger than one JSON chunk whole, in UID order, equal to getMessageMetas', async () => {
    const store = await open('biglist');
    const u = await makeUser(store);
    const inbox = (await store.listMailboxes(u.id)).find((m) => m.name === 'INBOX')!;
    const m = await putMessage(store, { subject: 'big', text: 'x\r\n' });
    await store.append(inbox.id, { blob: m.blob, index: m.index, flags: ['\\Seen', 'Work'] });
    // Rows written directly (the list only reads rows): 45,000 spans three chunks of 20,000, with gaps in the UIDs.
    const raw = new Database(join(dir, 'biglist.db'));
    const ins = raw.prepare('INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, size, blob_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    raw.transaction(() => {
      for (let i = 2; i <= 45001; i++) ins.run(inbox.id, i * 2, i, i % 32, i % 7 ? '' : 'K\u00e9y\\"q', 1700000000000 + i, 100 + i, m.blob.id);
    })();
    raw.close();
    const list = await store.listMessages(inbox.id);
    assert.equal(list.length, 45001);
    assert.ok(list.every((x, i) => i === 0 || x.uid > list[i - 1]!.uid));
    assert.deepEqual(list[0]!.flags, ['\\Seen', 'Work']);
    for (const at of [1, 19999, 20000, 20001, 40000, 45000]) {
      assert.deepEqual([list[at]!], await store.getMessageMetas(inbox.id, [list[at]!.uid]));
    }
    assert.equal(list.at(-1)!.uid, 90002);
    assert.deepEqual(list[6]!.flags.at(-1), 'K\u00e9y\\"q');
    await store.close();
  });

  it('keeps everything across close and reopen', async () => {
    const s = await open('persist');
    const u = await makeUser(s);
    const m = await putMessage(s, { subject: 'persisted' });
    await s.deliver(m.blob, m.index, [{ userId: u.id }]);
    await s.storeFlags((await s.getMailbox(u.id, 'INBOX'))!.id, [1], 'add', ['\\Seen']);
    await s.close();
    const s2 = await open('persist');
    const box = (await s2.getMailbox(u.id, 'INBOX'))!;
    const [rec] = await s2.getMessages(box.id, [1]);
    assert.equal(rec!.index.subject, 'persisted');
    assert.deepEqual(rec!.flags, ['\\Seen']);
    assert.deepEqual(await s2.search(box.id, { op: 'header', field: 'subject', value: 'persist' }), [1]);
    await s2.close();
  });

  it('close() commits deliveries still waiting for their group commit; a throwing bus does not fail a committed delivery', async () => {
    const throwingBus = { publish: () => { throw new Error('relay down'); }, subscribe: () => () => {}, close: async () => {} };
    const s = await openSqliteStore({ path: join(dir, 'close.db'), blobs: createDirBlobStore(join(dir, 'close-blobs')), bus: throwingBus });
    const u = await makeUser(s);
    const m = await putMessage(s, { subject: 'in flight at close' });
    const pending = s.deliver(m.blob, m.index, [{ userId: u.id }]);
    await s.close();
    const [out] = await pending;
    assert.equal(out!.ok, true);
    const s2 = await open('close');
    const box = (await s2.getMailbox(u.id, 'INBOX'))!;
    assert.deepEqual((await s2.listMessages(box.id)).map((x) => x.uid), [1]);
    await s2.close();
  });

  it('three processes delivering into one mailbox at once: every message lands with its own UID', async () => {
    const s = await open('multi');
    const u = await makeUser(s);
    const box = (await s.getMailbox(u.id, 'INBOX'))!;
    const db = join(dir, 'multi.db');
    const blobs = join(dir, 'multi-blobs');
    const results = await Promise.all(['a', 'b', 'c'].map((tag) => runWorker([db, blobs, String(u.id), '40', tag])));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const acked = results.flatMap((r) => r.lines.map((l) => Number(l.split(' ')[1])));
    assert.equal(acked.length, 120);
    assert.equal(new Set(acked).size, 120, 'no UID handed out twice');
    const list = await s.listMessages(box.id);
    assert.deepEqual(
      list.map((m) => m.uid),
      [...acked].sort((a, b) => a - b),
    );
    const st = await s.mailboxStatus(box.id);
    assert.equal(st.messages, 120);
    assert.equal(st.size, list.reduce((a, m) => a + m.size, 0));
    assert.equal(st.uidNext, Math.max(...acked) + 1);
    assert.equal((await s.changesSince(box.id, 0)).length, 120);
    await s.close();
  });

  it('search answers are the same before indexing, after it, and with the index written inline', async () => {
    const manual = await openSqliteStore({ path: join(dir, 'idx-m.db'), blobs: createDirBlobStore(join(dir, 'idx-m-blobs')), bus: new LocalBus(), searchIndex: 'manual' });
    const inline = await openSqliteStore({ path: join(dir, 'idx-i.db'), blobs: createDirBlobStore(join(dir, 'idx-i-blobs')), bus: new LocalBus(), searchIndex: 'inline' });
    const long = 'filler words here '.repeat(Math.ceil(INDEXED_TEXT_CHARS / 18) + 10) + 'needle-past-the-cap at the end';
    const specs = [
      { subject: 'Weekly sync', text: 'agenda: zebra crossing, budget\r\nnotes\r\n' },
      { subject: 'Re: zebra', text: 'the ZEBRA is crossing\r\n', headers: [['x-tag', 'alpha beta'] as [string, string]] },
      { subject: 'long one', text: long },
      { subject: 'ünïcode Straße', text: 'STRASSE und straße\r\n' },
    ];
    const keys: SearchKey[] = [
      { op: 'body', value: 'zebra crossing' },
      { op: 'body', value: 'ebra cros' },
      { op: 'text', value: 'zebra' },
      { op: 'header', field: 'subject', value: 'ZEBRA' },
      { op: 'header', field: 'x-tag', value: 'a be' },
      { op: 'body', value: 'needle-past-the-cap' },
      { op: 'body', value: 'straße' },
      { op: 'text', value: 'ü' },
      { op: 'body', value: 'a b' },
      { op: 'not', key: { op: 'body', value: 'crossing' } },
    ];
    const answers = async (s: SqliteStore, box: number) => Promise.all(keys.map((k) => s.search(box, k)));
    const boxes: number[] = [];
    for (const s of [manual, inline]) {
      const u = await makeUser(s);
      const box = (await s.getMailbox(u.id, 'INBOX'))!.id;
      boxes.push(box);
      for (const spec of specs) {
        const m = await putMessage(s, spec);
        await s.deliver(m.blob, m.index, [{ userId: u.id }]);
      }
    }
    assert.equal(await manual.searchIndexPending(), specs.length);
    assert.equal(await inline.searchIndexPending(), 0);
    const before = await answers(manual, boxes[0]!);
    assert.equal(await manual.indexSearchText(), specs.length);
    assert.equal(await manual.searchIndexPending(), 0);
    const afterIndexing = await answers(manual, boxes[0]!);
    const inlineAnswers = await answers(inline, boxes[1]!);
    assert.deepEqual(afterIndexing, before);
    assert.deepEqual(inlineAnswers, before);
    assert.deepEqual(before, [[1], [1], [1, 2], [2], [2], [3], [4], [4], [], [3, 4]]);
    await manual.close();
    await inline.close();
  });

  it('three processes draining one queue: every entry is claimed exactly once', async () => {
    const s = await open('claims');
    const m = await putMessage(s);
    const ids = new Set<string>();
    for (let i = 0; i < 45; i++) ids.add((await s.enqueue({ sender: 'a@b.example', blob: m.blob, recipients: [{ address: `r${i}@x.example` }], source: 'smtp' })).id);
    const db = join(dir, 'claims.db');
    const blobs = join(dir, 'claims-blobs');
    const results = await Promise.all(['n1', 'n2', 'n3'].map((tag) => runWorker([db, blobs, '0', '0', tag, 'claim'])));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const claimed = results.flatMap((r) => r.lines.map((l) => l.split(' ')[1]!));
    assert.equal(claimed.length, 45, 'no entry claimed twice');
    assert.deepEqual(new Set(claimed), ids);
    for (const e of await s.listQueue()) {
      assert.equal(e.recipients[0]!.state, 'delivered');
      assert.equal(e.recipients[0]!.attempts, 1);
    }
    await s.close();
  });

  it('kill -9 in the middle of deliveries loses no acknowledged message and leaves a consistent database', async () => {
    const s = await open('crash');
    const u = await makeUser(s);
    const box = (await s.getMailbox(u.id, 'INBOX'))!;
    await s.close();
    const r = await runWorker([join(dir, 'crash.db'), join(dir, 'crash-blobs'), String(u.id), '0', 'crash'], (line, kill) => {
      if (line === 'ok 60') kill();
    });
    assert.equal(r.signal, 'SIGKILL');
    const acked = r.lines.map((l) => Number(l.split(' ')[1]));
    assert.ok(acked.length >= 60);
    const raw = new Database(join(dir, 'crash.db'));
    assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
    raw.close();
    const s2 = await open('crash');
    const list = await s2.listMessages(box.id);
    const have = new Set(list.map((m) => m.uid));
    for (const uid of acked) assert.ok(have.has(uid), `acknowledged UID ${uid} survived`);
    const st = await s2.mailboxStatus(box.id);
    assert.equal(st.messages, list.length);
    assert.equal(st.size, list.reduce((a, m) => a + m.size, 0));
    for (const m of list) assert.equal((await s2.blobs.read(m.blobId)).length, m.size);
    // New deliveries continue above every UID handed out before the crash.
    const m = await putMessage(s2);
    const [o] = await s2.deliver(m.blob, m.index, [{ userId: u.id }]);
    assert.ok(o!.ok && o!.result.uid > Math.max(...list.map((x) => x.uid)));
    await s2.close();
  });
});
