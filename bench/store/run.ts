/**
 * Store benchmark: appends N generated messages (default 100,000, 2–50 KB,
 * realistic MIME) into one mailbox through the real delivery path — blob put
 * (fsynced), indexMessage(), store.deliver() — then times the reads and writes
 * an IMAP session leans on: listMessages of the whole mailbox, a STORE on
 * 10,000 messages, a header SEARCH and a body SEARCH.
 *
 *   npm run bench:store -- [--count N] [--dir PATH] [--keep] [--inflight K]
 *                          [--search-index background|inline|manual]
 *
 * --search-index: when the substring search index is built (default
 * background, as the server runs; manual = after the appends, timed apart).
 *
 * Not part of `npm test`.
 */
// More threads for fs work: every blob put waits on two fsyncs (file, directory).
process.env.UV_THREADPOOL_SIZE ??= '32';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { indexMessage } from '../../src/core/mime/index.js';
import { createDirBlobStore } from '../../src/store/blobs/dir.js';
import { LocalBus } from '../../src/store/bus.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { SearchKey } from '../../src/core/search-key.js';
import { generateMessage } from './generate.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    inflight: { type: 'string', default: '32' },
    'search-index': { type: 'string', default: 'background' },
  },
});
const count = Number(values.count);
const inflight = Math.max(1, Number(values.inflight));
if (!Number.isInteger(count) || count < 1) throw new Error('--count must be a positive integer');

const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'mailroom-bench-'));
const searchIndex = values['search-index'] as 'background' | 'inline' | 'manual';
if (!['background', 'inline', 'manual'].includes(searchIndex)) throw new Error('--search-index must be background, inline or manual');
const store = await openSqliteStore({ path: join(dir, 'mailroom.db'), blobs: createDirBlobStore(join(dir, 'blobs')), bus: new LocalBus(), searchIndex });

const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 1 });
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function timed<T>(label: string, fn: () => Promise<T>, describe: (r: T) => string): Promise<T> {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  console.log(`${label.padEnd(34)} ${fmt(ms(t0)).padStart(10)} ms   ${describe(r)}`);
  return r;
}

try {
  const domain = 'bench.example';
  await store.addDomain(domain);
  const user = await store.addUser({ login: 'bench', address: `bench@${domain}`, credentials: { passwordHash: 'x', scramSha256: null, sealedSecret: null } });
  const inbox = (await store.getMailbox(user.id, 'INBOX'))!;

  console.log(`mailroom store bench: ${fmt(count)} messages into one mailbox, ${inflight} in flight, search index ${searchIndex}, in ${dir}`);
  let bytes = 0;
  let done = 0;
  let next = 0;
  let indexMs = 0;
  let genMs = 0;
  let deliverMs = 0;
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let lastPrint = 0;
  const progress = (final = false) => {
    const now = Date.now();
    if (!final && now - lastPrint < 500) return;
    lastPrint = now;
    const secs = ms(t0) / 1000;
    process.stderr.write(`\r  appended ${fmt(done)}/${fmt(count)}  ${fmt(done / secs)} msg/s  ${fmt(bytes / 1048576 / secs)} MB/s   ${final ? '\n' : ''}`);
  };

  // K workers pull message numbers: blob puts (fsync in the thread pool) overlap
  // with indexing and the synchronous SQLite commits of the others.
  async function appender() {
    while (next < count) {
      const i = next++;
      const tg = process.hrtime.bigint();
      const { raw } = generateMessage(i);
      genMs += ms(tg);
      const blob = await store.blobs.put(raw);
      let t = process.hrtime.bigint();
      const index = indexMessage(raw);
      indexMs += ms(t);
      t = process.hrtime.bigint();
      const [out] = await store.deliver(blob, index, [{ userId: user.id }]);
      deliverMs += ms(t);
      if (!out?.ok) throw new Error(`deliver failed: ${JSON.stringify(out)}`);
      bytes += raw.length;
      done++;
      progress();
    }
  }
  await Promise.all(Array.from({ length: inflight }, appender));
  progress(true);
  const appendMs = ms(t0);
  const cpu = process.cpuUsage(cpu0);
  console.log(`${'append (put + index + deliver)'.padEnd(34)} ${fmt(appendMs).padStart(10)} ms   ${fmt(count / (appendMs / 1000))} messages/s, ${fmt(bytes / 1048576)} MB`);
  console.log(`${'  CPU time of this process'.padEnd(34)} ${fmt((cpu.user + cpu.system) / 1000).padStart(10)} ms   ${fmt((cpu.user + cpu.system) / count)} µs/message (user ${fmt(cpu.user / 1000)} ms, system ${fmt(cpu.system / 1000)} ms)`);
  console.log(`${'  of which generating test mail'.padEnd(34)} ${fmt(genMs).padStart(10)} ms   ${fmt((genMs * 1000) / count)} µs/message (not mailroom's work)`);
  console.log(`${'  of which indexMessage'.padEnd(34)} ${fmt(indexMs).padStart(10)} ms   ${fmt((indexMs * 1000) / count)} µs/message`);
  console.log(`${'  waiting on store.deliver (sum)'.padEnd(34)} ${fmt(deliverMs).padStart(10)} ms   ${fmt((deliverMs * 1000) / count)} µs/message, group commit included`);

  const pending = await store.searchIndexPending();
  await timed(`SEARCH BODY before indexing (${fmt(pending)} pending)`, () => store.search(inbox.id, { op: 'body', value: 'zebra crossing' }), (x) => `${fmt(x.length)} matches (unindexed text scanned)`);
  const c1 = process.cpuUsage();
  await timed('search index catch-up', () => store.indexSearchText(), (n) => {
    const c = process.cpuUsage(c1);
    return `${fmt(n)} blobs indexed, ${fmt((c.user + c.system) / Math.max(1, n))} µs CPU/blob`;
  });

  const list = await timed('listMessages (all, with flags)', () => store.listMessages(inbox.id), (r) => `${fmt(r.length)} messages`);
  if (list.length !== count) throw new Error(`expected ${count} messages, listed ${list.length}`);
  await timed('mailboxStatus', () => store.mailboxStatus(inbox.id), (r) => `${fmt(r.messages)} messages, ${fmt(r.unseen)} unseen`);
  const some = list.slice(0, Math.min(10_000, list.length)).map((m) => m.uid);
  await timed(`storeFlags +\\Seen on ${fmt(some.length)}`, () => store.storeFlags(inbox.id, some, 'add', ['\\Seen']), (r) => `${fmt(r.updated.length)} updated`);
  await timed(`storeFlags -\\Seen on ${fmt(some.length)}`, () => store.storeFlags(inbox.id, some, 'remove', ['\\Seen']), (r) => `${fmt(r.updated.length)} updated`);
  const expectMarked = Math.ceil(count / 100);
  const searches: Array<[string, SearchKey]> = [
    ['SEARCH HEADER Subject "quarterly"', { op: 'header', field: 'subject', value: 'quarterly' }],
    ['SEARCH BODY "zebra crossing"', { op: 'body', value: 'zebra crossing' }],
    ['SEARCH TEXT "zebra"', { op: 'text', value: 'zebra' }],
    ['SEARCH UNSEEN LARGER 40000', { op: 'and', keys: [{ op: 'flag', flag: '\\Seen', set: false }, { op: 'size', cmp: 'larger', bytes: 40000 }] }],
    ['SEARCH BODY "zq" (2 chars, no index)', { op: 'body', value: 'zq' }],
  ];
  for (const [label, key] of searches) {
    const r = await timed(label, () => store.search(inbox.id, key), (x) => `${fmt(x.length)} matches`);
    if (label.includes('quarterly') || label.includes('zebra crossing')) {
      if (r.length !== expectMarked) throw new Error(`${label}: expected ${expectMarked} matches, got ${r.length}`);
    }
  }
  const recs = await timed('getMessages (1,000 with index)', () => store.getMessages(inbox.id, list.slice(-1000).map((m) => m.uid)), (r) => `${fmt(r.length)} records`);
  void recs;
  const dbBytes = ['mailroom.db', 'mailroom.db-wal'].reduce((a, f) => a + (statSync(join(dir, f), { throwIfNoEntry: false })?.size ?? 0), 0);
  console.log(`database ${fmt(dbBytes / 1048576)} MB (${fmt(dbBytes / count)} bytes/message), blobs ${fmt(bytes / 1048576)} MB`);
} finally {
  await store.close();
  if (!values.keep && !values.dir) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}
