/**
 * The poller against real parts: the SQLite store in a temp dir, the real
 * route() and ingest(), and a scripted POP3 server on a real socket (IMAP and
 * Dovecot are covered by test/e2e/fetch*.test.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createSecrets } from '../auth/secrets.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createRecipients, createRoute } from '../delivery/route.js';
import type { Route } from '../delivery/types.js';
import { openStore } from '../store/open.js';
import type { ExternalAccount, NewExternalAccount, Store, User } from '../store/types.js';
import { fetchToken } from './deliver.js';
import { INFLIGHT_MARK, pollAccount, type PollDeps } from './poller.js';
import { startResponder, type Responder, type ResponderMessage, type ResponderOptions } from './pop3-responder.fixture.js';

const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
const secrets = createSecrets(randomBytes(32));
let dir: string;
let store: Store;
let config: Config;
let route: Route;
let alice: User;
let bob: User;
let postmaster: User;
const responders: Responder[] = [];
let accountSeq = 0;

const creds = { passwordHash: 'unused', scramSha256: null, sealedSecret: null };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailroom-fetch-poller-'));
  const loaded = loadConfig({ overrides: { dataDir: dir, hostname: 'mail.firm.test', log: { level: 'silent' } }, env: {}, cwd: dir });
  config = loaded.config;
  store = await openStore(loaded);
  route = createRoute({ store, config, logger });
  await store.addDomain('firm.test');
  alice = await store.addUser({ login: 'alice@firm.test', address: 'alice@firm.test', credentials: creds });
  bob = await store.addUser({ login: 'bob@firm.test', address: 'bob@firm.test', credentials: creds });
  postmaster = await store.addUser({ login: 'postmaster@firm.test', address: 'postmaster@firm.test', credentials: creds, isAdmin: true });
  await store.addAlias('sales@firm.test', ['alice@firm.test', 'bob@firm.test']);
});

after(async () => {
  for (const r of responders) await r.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function responder(messages: ResponderMessage[], opts: ResponderOptions = {}): Promise<Responder> {
  const r = await startResponder(messages, opts);
  responders.push(r);
  return r;
}

async function account(r: Responder, extra: Partial<NewExternalAccount> = {}, password = 'secret'): Promise<ExternalAccount> {
  return store.addExternalAccount({
    name: `acct${++accountSeq}`,
    protocol: 'pop3',
    host: '127.0.0.1',
    port: r.port,
    tls: 'none',
    username: 'alice',
    sealedPassword: secrets.seal(password),
    interval: 300,
    folders: [],
    keep: 'keep',
    deleteAfterDays: 0,
    mode: 'single',
    targetUserId: alice.id,
    enabled: true,
    ...extra,
  });
}

function deps(extra: Partial<PollDeps> = {}): PollDeps {
  return { store, route, recipients: createRecipients(store, config), config, secrets, logger, owner: 'test', ...extra };
}

let msgSeq = 0;
function mail(headers: string, body = 'Hello.\r\n'): ResponderMessage {
  const n = ++msgSeq;
  return { uid: `UID${n}-${randomBytes(4).toString('hex')}`, body: Buffer.from(`Message-ID: <m${n}@sender.test>\r\nSubject: message ${n}\r\n${headers}\r\n${body}`) };
}

/** Bodies of a user's INBOX, oldest first. */
async function inbox(user: User): Promise<Buffer[]> {
  const mb = await store.getMailbox(user.id, 'INBOX');
  const out: Buffer[] = [];
  for (const m of await store.listMessages(mb!.id)) out.push(await store.blobs.read(m.blobId));
  return out;
}

/** Message-IDs in a user's INBOX (to count copies). */
async function ids(user: User): Promise<string[]> {
  return (await inbox(user)).map((b) => /Message-ID: <([^>]+)>/.exec(b.toString())?.[1] ?? '?');
}

describe('pollAccount over POP3', () => {
  it('single-drop, keep: delivers every message once, byte-exact under one Received line, and skips them next time', async () => {
    const before = (await inbox(alice)).length;
    const msgs = [
      mail('Authentication-Results: mx.provider.test; dkim=pass header.d=sender.test\r\nFrom: a@sender.test\r\nTo: office@provider.test\r\n', '.dot line\r\nend\r\n'),
      mail('From: b@sender.test\r\n'),
      mail('From: c@sender.test\r\n'),
    ];
    const r = await responder(msgs.slice());
    const acct = await account(r);
    const res = await pollAccount(acct, deps());
    assert.equal(res.error, null);
    assert.equal(res.fetched, 3);
    const got = (await inbox(alice)).slice(before);
    assert.equal(got.length, 3);
    for (let i = 0; i < 3; i++) {
      const text = got[i]!.toString();
      assert.match(text, /^Received: from 127\.0\.0\.1 \(fetched by mailroom from account acct\d+\)\r\n\tby mail\.firm\.test with POP3 id mrf[0-9a-f]{24} for <alice@firm\.test>;\r\n\t.+\r\n/);
      // Everything after our line is the remote message, byte for byte (Authentication-Results untouched).
      assert.ok(got[i]!.subarray(got[i]!.length - msgs[i]!.body.length).equals(msgs[i]!.body));
    }
    const again = await pollAccount(acct, deps());
    assert.equal(again.fetched, 0);
    assert.equal((await inbox(alice)).length, before + 3);
    assert.equal(r.messages.length, 3, 'keep leaves the remote alone');
    const stored = await store.getExternalAccount(acct.id);
    assert.equal(stored!.lastError, null);
    assert.ok(stored!.lastPollAt);
  });

  it('delete: removes remote messages only after they are delivered', async () => {
    const r = await responder([mail('To: x@provider.test\r\n'), mail('To: y@provider.test\r\n')]);
    const acct = await account(r, { keep: 'delete' });
    const res = await pollAccount(acct, deps());
    assert.equal(res.fetched, 2);
    assert.equal(res.deleted, 2);
    assert.equal(r.messages.length, 0);
    // The seen ids of messages gone from the server are forgotten at the next poll.
    await pollAccount(acct, deps());
    assert.equal((await store.seenRemoteIds(acct.id, 'INBOX')).size, 0);
  });

  it('delete after N days: keeps them until then', async () => {
    const r = await responder([mail('To: x@provider.test\r\n')]);
    const acct = await account(r, { keep: 'deleteAfterDays', deleteAfterDays: 3 });
    const t0 = Date.now();
    await pollAccount(acct, deps({ now: () => new Date(t0) }));
    await pollAccount(acct, deps({ now: () => new Date(t0 + 2 * 86_400_000) }));
    assert.equal(r.messages.length, 1);
    const later = await pollAccount(acct, deps({ now: () => new Date(t0 + 3 * 86_400_000 + 1000) }));
    assert.equal(later.deleted, 1);
    assert.equal(later.fetched, 0);
    assert.equal(r.messages.length, 0);
  });

  it('multi-drop: splits by recipient headers, unknown and missing recipients go to the fallback, nothing leaves', async () => {
    const before = { alice: (await ids(alice)).length, bob: (await ids(bob)).length, pm: (await ids(postmaster)).length };
    const msgs = [
      mail('Delivered-To: bob@firm.test\r\nTo: alice@firm.test\r\n'), // envelope says bob
      mail('Delivered-To: office@provider.test\r\nX-Original-To: alice+news@firm.test\r\n'), // catch-all; sub-address
      mail('To: Alice <alice@firm.test>, partner@outside.test\r\nCc: sales@firm.test\r\n'), // alias expands to alice+bob
      mail('Envelope-To: nobody@firm.test\r\n'), // ours, but unknown: fallback
      mail('From: someone@outside.test\r\n'), // no recipient headers at all
      mail('To: list@lists.outside.test\r\n'), // only outsiders
      { uid: 'garbage', body: Buffer.from([0, 1, 2, 255, 10, 13, 10, 46, 46, 10]) }, // not even a header
    ];
    const r = await responder(msgs.slice());
    const acct = await account(r, { mode: 'multi', targetUserId: postmaster.id, keep: 'delete' });
    const res = await pollAccount(acct, deps());
    assert.equal(res.error, null, res.error?.summary);
    assert.equal(res.fetched, msgs.length);
    const a = (await ids(alice)).slice(before.alice);
    const b = (await ids(bob)).slice(before.bob);
    const p = (await ids(postmaster)).slice(before.pm);
    const id = (i: number) => /<([^>]+)>/.exec(msgs[i]!.body.toString())![1];
    assert.deepEqual(b, [id(0), id(2)]);
    assert.deepEqual(a, [id(1), id(2)]);
    assert.deepEqual(p, [id(3), id(4), id(5), '?']);
    assert.equal((await store.listQueue()).length, 0, 'fetched mail is never queued for outside delivery');
    assert.equal(r.messages.length, 0);
  });

  it('a remote that disconnects mid-RETR: what arrived stays, nothing is deleted, the next poll finishes without duplicates', async () => {
    const bigBody = 'x'.repeat(1500) + '\r\n';
    const msgs = Array.from({ length: 6 }, (_, i) => mail(`To: x${i}@provider.test\r\n`, i === 3 ? bigBody.repeat(1000) : 'short\r\n'));
    const opts: ResponderOptions = { dropDuringRetr: 4 };
    const r = await responder(msgs.slice(), opts);
    const acct = await account(r, { keep: 'delete', targetUserId: bob.id });
    const before = (await ids(bob)).length;
    const first = await pollAccount(acct, deps());
    assert.equal(first.error?.code, 'closed', first.error?.summary);
    assert.equal(first.fetched, 3);
    assert.equal(r.messages.length, 6, 'no QUIT, so no deletion');
    assert.match((await store.getExternalAccount(acct.id))!.lastError ?? '', /^closed: /);
    opts.dropDuringRetr = undefined;
    const second = await pollAccount(acct, deps());
    assert.equal(second.error, null);
    assert.equal(second.fetched, 3);
    assert.equal(r.messages.length, 0);
    const got = (await ids(bob)).slice(before);
    assert.deepEqual(got, msgs.map((m) => /<([^>]+)>/.exec(m.body.toString())![1]));
    assert.equal((await store.getExternalAccount(acct.id))!.lastError, null);
  });

  it('a crash after delivery but before the seen mark: the next poll finds the message in the mailbox and does not deliver it again', async () => {
    const msgs = [mail('To: a@provider.test\r\n'), mail('To: b@provider.test\r\n'), mail('To: c@provider.test\r\n')];
    const r = await responder(msgs.slice());
    const carol = await store.addUser({ login: 'carol@firm.test', address: 'carol@firm.test', credentials: creds });
    const acct = await account(r, { keep: 'delete', targetUserId: carol.id });
    // The process "dies" right after route() committed message 2: that poll never goes on.
    let calls = 0;
    const dying: Route = async (env, blob, index) => {
      const res = await route(env, blob, index);
      if (++calls === 2) return new Promise(() => undefined);
      return res;
    };
    void pollAccount(acct, deps({ route: dying, owner: 'node-1' }));
    while (calls < 2) await new Promise((res) => setTimeout(res, 10));
    await new Promise((res) => setTimeout(res, 50));
    const seen = await store.seenRemoteIds(acct.id, 'INBOX');
    assert.ok(seen.has(INFLIGHT_MARK), 'the dead poll left its in-flight mark');
    assert.ok(!seen.has(msgs[1]!.uid), 'message 2 was delivered but not marked seen');
    assert.equal((await ids(carol)).length, 2);
    // The restarted server (same lock owner) polls again.
    const res = await pollAccount(acct, deps({ owner: 'node-1' }));
    assert.equal(res.error, null, res.error?.summary);
    assert.deepEqual(await ids(carol), msgs.map((m) => /<([^>]+)>/.exec(m.body.toString())![1]));
    assert.equal(r.messages.length, 0);
    assert.equal((await store.seenRemoteIds(acct.id, 'INBOX')).has(INFLIGHT_MARK), false);
    // The token that made this possible is in the stored message.
    const stored = (await inbox(carol))[1]!.toString();
    assert.ok(stored.includes(fetchToken(acct.id, 'INBOX', msgs[1]!.uid)));
  });

  it('a full mailbox defers: messages stay on the server (even in delete mode) and arrive once there is room', async () => {
    const dave = await store.addUser({ login: 'dave@firm.test', address: 'dave@firm.test', credentials: creds, quota: 10 });
    const msgs = [mail('To: a@provider.test\r\n'), mail('To: b@provider.test\r\n')];
    const r = await responder(msgs.slice());
    const acct = await account(r, { keep: 'delete', targetUserId: dave.id });
    const res = await pollAccount(acct, deps());
    assert.equal(res.fetched, 0);
    assert.equal(res.failed, 2);
    assert.match(res.error?.summary ?? '', /^delivery: dave@firm\.test: 452 4\.2\.2/);
    assert.equal(r.messages.length, 2);
    assert.match((await store.getExternalAccount(acct.id))!.lastError ?? '', /Mailbox full/);
    await store.updateUser(dave.id, { quota: 0 });
    const again = await pollAccount(acct, deps());
    assert.equal(again.error, null);
    assert.equal(again.fetched, 2);
    assert.equal(r.messages.length, 0);
    assert.equal((await ids(dave)).length, 2);
  });

  it('multi-drop with one recipient over quota: the others get it now, the full one later, nobody twice', async () => {
    const erin = await store.addUser({ login: 'erin@firm.test', address: 'erin@firm.test', credentials: creds, quota: 10 });
    const frank = await store.addUser({ login: 'frank@firm.test', address: 'frank@firm.test', credentials: creds });
    const m = mail('To: erin@firm.test, frank@firm.test\r\n');
    const r = await responder([m]);
    const acct = await account(r, { mode: 'multi', targetUserId: postmaster.id, keep: 'delete' });
    const first = await pollAccount(acct, deps());
    assert.equal(first.failed, 1);
    assert.equal((await ids(frank)).length, 1);
    assert.equal((await ids(erin)).length, 0);
    assert.equal(r.messages.length, 1);
    await store.updateUser(erin.id, { quota: 0 });
    const second = await pollAccount(acct, deps());
    assert.equal(second.error, null, second.error?.summary);
    assert.equal((await ids(frank)).length, 1, 'frank not twice');
    assert.equal((await ids(erin)).length, 1);
    assert.equal(r.messages.length, 0);
    assert.deepEqual([...(await store.seenRemoteIds(acct.id, 'INBOX')).keys()], [m.uid]);
  });

  it('records a wrong password, a server that is down, and a stalled server as errors, delivering nothing', async () => {
    const r = await responder([mail('To: a@provider.test\r\n')]);
    const wrong = await account(r, {}, 'not-the-password');
    const res = await pollAccount(wrong, deps());
    assert.equal(res.error?.code, 'auth');
    assert.match((await store.getExternalAccount(wrong.id))!.lastError ?? '', /^auth: login refused/);

    const gone = await responder([]);
    const port = gone.port;
    await gone.close();
    const down = await account(gone, { port });
    const res2 = await pollAccount(down, deps());
    assert.equal(res2.error?.code, 'connect');

    const slow = await responder([mail('To: a@provider.test\r\n')], { stallOn: 'UIDL' });
    const stalled = await account(slow);
    const res3 = await pollAccount(stalled, deps({ config: { ...config, fetch: { ...config.fetch, timeout: 0.3 } } }));
    assert.equal(res3.error?.code, 'timeout');
    assert.equal(res3.fetched, 0);
  });

  it('on shutdown, a remote that stalls is cut off after the grace period, and nothing is deleted', async () => {
    const r = await responder([mail('To: a@provider.test\r\n'), mail('To: b@provider.test\r\n')], { stallOn: 'RETR' });
    const acct = await account(r, { keep: 'delete' });
    const stop = new AbortController();
    const t0 = Date.now();
    const polling = pollAccount(acct, deps({ signal: stop.signal, abortGraceMs: 200 }));
    await new Promise((res) => setTimeout(res, 300));
    stop.abort();
    const res = await polling;
    assert.ok(Date.now() - t0 < 5000, 'did not wait for the 60 s timeout');
    assert.equal(res.fetched, 0);
    assert.equal(res.error?.code, 'closed');
    assert.equal(r.messages.length, 2);
  });

  it('skips an account another process is polling', async () => {
    const r = await responder([mail('To: a@provider.test\r\n')]);
    const acct = await account(r);
    assert.equal(await store.tryLock(`fetch:${acct.id}`, 'someone-else', 60_000), true);
    const res = await pollAccount(acct, deps());
    assert.equal(res.skipped, true);
    assert.equal(res.error?.code, 'busy');
    assert.equal(r.sessions, 0);
    await store.unlock(`fetch:${acct.id}`, 'someone-else');
  });

  it('a first poll of a few hundred messages reports progress and keeps remote order', async () => {
    const grace = await store.addUser({ login: 'grace@firm.test', address: 'grace@firm.test', credentials: creds });
    const msgs = Array.from({ length: 300 }, (_, i) => mail(`To: x@provider.test\r\n`, `message body ${i}\r\n`.repeat(20)));
    const r = await responder(msgs.slice());
    const acct = await account(r, { targetUserId: grace.id, keep: 'delete' });
    const seen: number[] = [];
    const res = await pollAccount(acct, deps({ onProgress: (p) => p.phase === 'fetch' && seen.push(p.done) }));
    assert.equal(res.error, null);
    assert.equal(res.fetched, 300);
    assert.equal(seen.length, 300);
    assert.equal(seen[299], 300);
    assert.deepEqual(await ids(grace), msgs.map((m) => /<([^>]+)>/.exec(m.body.toString())![1]));
    assert.equal(r.messages.length, 0);
  });
});
