/**
 * Fetching from Dovecot (Debian's, set up by bench/peers/setup.sh) as the
 * provider: POP3 and IMAP, single-drop and multi-drop, keep and delete, the
 * scheduler of a running server, and a big first poll.
 *
 * Uses Dovecot users user91..user97 only (other suites use the low numbers),
 * and wipes only those. Skips when Dovecot is not installed/configured, unless CI=true.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createSecrets, loadOrCreateSecretKey } from '../../src/auth/secrets.js';
import { pollAccount, type PollDeps } from '../../src/fetch/poller.js';
import type { ExternalAccount, NewExternalAccount, User } from '../../src/store/types.js';
import { doveadm, loadMaildir, peersAvailable, PEER_PASSWORD, PEER_PORTS, startPeers, wipeMailboxes } from '../../bench/peers/peers.js';
import { generateCorpus } from '../../bench/peers/corpus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import pino from 'pino';

const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });

const avail = peersAvailable();
const skip = !avail.ok && process.env.CI !== 'true' ? `Dovecot peer not available (${avail.ok ? '' : avail.reason}); CI=true would fail instead` : false;

const USERS = ['user91', 'user92', 'user93', 'user94', 'user95', 'user96', 'user97'];
let server: TestServer;
let secrets: { seal(p: string): string; unseal(s: string): string };
let alice: User;
let bob: User;
let postmaster: User;
let seq = 0;

function remoteCount(user: string, folder = 'INBOX'): number {
  const out = doveadm(['mailbox', 'status', '-u', user, 'messages', folder]);
  return Number(/messages=(\d+)/.exec(out)?.[1] ?? -1);
}

async function account(user: string, extra: Partial<NewExternalAccount>): Promise<ExternalAccount> {
  return server.store.addExternalAccount({
    name: `dovecot-${++seq}`,
    protocol: 'pop3',
    host: '127.0.0.1',
    port: PEER_PORTS.pop3,
    tls: 'none',
    username: user,
    sealedPassword: secrets.seal(PEER_PASSWORD),
    interval: 3600,
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
  return { store: server.store, route: server.route, recipients: server.recipients, config: server.config, secrets, logger, ...extra };
}

async function inbox(user: User): Promise<Buffer[]> {
  const mb = await server.store.getMailbox(user.id, 'INBOX');
  const out: Buffer[] = [];
  for (const m of await server.store.listMessages(mb!.id)) out.push(await server.store.blobs.read(m.blobId));
  return out;
}

const messageId = (b: Buffer) => /^Message-ID: (<[^>]+>)/im.exec(b.toString('latin1'))?.[1] ?? '?';

/** The stored message minus our Received line (two folded lines + date). */
function withoutOurReceived(b: Buffer): Buffer {
  const text = b.toString('latin1');
  const m = /^Received: from [^\r\n]*\(fetched by mailroom[^\r\n]*\r\n(?:\t[^\r\n]*\r\n)+/.exec(text);
  assert.ok(m, 'starts with our Received line');
  return b.subarray(Buffer.byteLength(m[0], 'latin1'));
}

describe('fetch from Dovecot', { skip }, () => {
  before(async () => {
    await startPeers(['dovecot']);
    await wipeMailboxes(USERS);
    server = await startTestServer({ hostname: 'mail.firm.test' }, { services: [] });
    secrets = createSecrets(loadOrCreateSecretKey(join(server.dataDir, server.config.secretKeyFile)));
    alice = await server.addUser('alice@firm.test', 'pw');
    bob = await server.addUser('bob@firm.test', 'pw');
    postmaster = await server.addUser('postmaster@firm.test', 'pw');
  });

  after(async () => {
    await server?.stop();
    if (!skip) await wipeMailboxes(USERS);
  });

  it('POP3, single-drop, keep: every message once, byte-exact, left on Dovecot', async () => {
    const corpus = generateCorpus({ count: 25, seed: 91 });
    await loadMaildir('user91', corpus.map((m) => m.raw));
    const acct = await account('user91', {});
    const before = (await inbox(alice)).length;
    const r = await pollAccount(acct, deps());
    assert.equal(r.error, null, r.error?.summary);
    assert.equal(r.fetched, 25);
    const got = (await inbox(alice)).slice(before);
    assert.equal(got.length, 25);
    for (let i = 0; i < 25; i++) assert.ok(withoutOurReceived(got[i]!).equals(corpus[i]!.raw), `message ${i + 1} is byte-exact`);
    const again = await pollAccount(acct, deps());
    assert.equal(again.fetched, 0);
    assert.equal(remoteCount('user91'), 25);
  });

  it('POP3, single-drop, delete: Dovecot is emptied only of what was delivered', async () => {
    const corpus = generateCorpus({ count: 12, seed: 92 });
    await loadMaildir('user92', corpus.map((m) => m.raw));
    const acct = await account('user92', { keep: 'delete', targetUserId: bob.id });
    const r = await pollAccount(acct, deps());
    assert.equal(r.error, null, r.error?.summary);
    assert.equal(r.fetched, 12);
    assert.equal(r.deleted, 12);
    assert.equal(remoteCount('user92'), 0);
    assert.deepEqual((await inbox(bob)).map(messageId), corpus.map((m) => m.messageId.startsWith('<') ? m.messageId : `<${m.messageId}>`));
  });

  it('IMAP, two folders, delete: INBOX and Archive both collected and emptied', async () => {
    const inboxMsgs = generateCorpus({ count: 6, seed: 93 });
    const archive = generateCorpus({ count: 4, seed: 931 });
    await loadMaildir('user93', inboxMsgs.map((m) => m.raw));
    await loadMaildir('user93', archive.map((m) => m.raw), { folder: 'Archive' });
    const carol = await server.addUser('carol@firm.test', 'pw');
    const acct = await account('user93', { protocol: 'imap', port: PEER_PORTS.imap, folders: ['INBOX', 'Archive'], keep: 'delete', targetUserId: carol.id });
    const r = await pollAccount(acct, deps());
    assert.equal(r.error, null, r.error?.summary);
    assert.equal(r.fetched, 10);
    assert.equal(remoteCount('user93'), 0);
    assert.equal(remoteCount('user93', 'Archive'), 0);
    const got = await inbox(carol);
    assert.equal(got.length, 10);
    for (let i = 0; i < 6; i++) assert.ok(withoutOurReceived(got[i]!).equals(inboxMsgs[i]!.raw));
    // Ids are UIDVALIDITY:UID per folder; the deleted ones are forgotten at the next poll.
    const next = await pollAccount(acct, deps());
    assert.equal(next.fetched, 0);
    assert.equal((await server.store.seenRemoteIds(acct.id, 'Archive')).size, 0);
  });

  it('IMAP, multi-drop, keep: split by recipient, fallback for the rest, \\Seen untouched on Dovecot', async () => {
    const raw = (headers: string, n: number) => Buffer.from(`Message-ID: <md${n}@sender.test>\r\nFrom: x@sender.test\r\nSubject: md ${n}\r\n${headers}\r\nbody ${n}\r\n`);
    await loadMaildir('user94', [
      raw('Delivered-To: bob@firm.test\r\n', 1),
      raw('X-Original-To: alice@firm.test\r\nDelivered-To: office@provider.test\r\n', 2),
      raw('To: stranger@elsewhere.test\r\n', 3),
      raw('To: alice@firm.test, bob@firm.test\r\n', 4),
    ]);
    const before = { a: (await inbox(alice)).length, b: (await inbox(bob)).length, p: (await inbox(postmaster)).length };
    const acct = await account('user94', { protocol: 'imap', port: PEER_PORTS.imap, folders: ['INBOX'], mode: 'multi', targetUserId: postmaster.id });
    const r = await pollAccount(acct, deps());
    assert.equal(r.error, null, r.error?.summary);
    assert.equal(r.fetched, 4);
    assert.deepEqual((await inbox(alice)).slice(before.a).map(messageId), ['<md2@sender.test>', '<md4@sender.test>']);
    assert.deepEqual((await inbox(bob)).slice(before.b).map(messageId), ['<md1@sender.test>', '<md4@sender.test>']);
    assert.deepEqual((await inbox(postmaster)).slice(before.p).map(messageId), ['<md3@sender.test>']);
    assert.equal(remoteCount('user94'), 4);
    const unseen = doveadm(['search', '-u', 'user94', 'mailbox', 'INBOX', 'UNSEEN']).trim().split('\n').filter(Boolean);
    assert.equal(unseen.length, 4, 'fetching did not mark anything \\Seen');
    assert.equal((await server.store.listQueue()).length, 0);
  });

  it('POP3, multi-drop, delete: a shared mailbox split among local users, emptied remotely', async () => {
    const raw = (headers: string, n: number) => Buffer.from(`Message-ID: <pm${n}@sender.test>\r\nFrom: x@sender.test\r\nSubject: pm ${n}\r\n${headers}\r\nbody ${n}\r\n`);
    await loadMaildir('user97', [
      raw('Envelope-To: alice@firm.test, bob@firm.test\r\n', 1),
      raw('Delivered-To: alice+lists@firm.test\r\n', 2),
      raw('Received: from mx.provider.test by pop.provider.test for <bob@firm.test>; Tue, 2 Jan 2024 10:00:00 +0000\r\nTo: list@lists.outside.test\r\n', 3),
      raw('Subject-less: and no recipients\r\n', 4),
    ]);
    const before = { a: (await inbox(alice)).length, b: (await inbox(bob)).length, p: (await inbox(postmaster)).length };
    const acct = await account('user97', { mode: 'multi', targetUserId: postmaster.id, keep: 'delete' });
    const r = await pollAccount(acct, deps());
    assert.equal(r.error, null, r.error?.summary);
    assert.equal(r.fetched, 4);
    assert.deepEqual((await inbox(alice)).slice(before.a).map(messageId), ['<pm1@sender.test>', '<pm2@sender.test>']);
    assert.deepEqual((await inbox(bob)).slice(before.b).map(messageId), ['<pm1@sender.test>', '<pm3@sender.test>']);
    assert.deepEqual((await inbox(postmaster)).slice(before.p).map(messageId), ['<pm4@sender.test>']);
    assert.equal(remoteCount('user97'), 0);
  });

  it('a wrong password and a Dovecot port with nobody listening are recorded, not thrown', async () => {
    const wrong = await server.store.addExternalAccount({ ...(await account('user95', {})), name: 'dovecot-wrong', sealedPassword: secrets.seal('nope') });
    const r = await pollAccount(wrong, deps());
    assert.equal(r.error?.code, 'auth');
    assert.match((await server.store.getExternalAccount('dovecot-wrong'))!.lastError ?? '', /^auth: /);
    const imapWrong = await account('user95', { protocol: 'imap', port: PEER_PORTS.imap, sealedPassword: secrets.seal('nope') });
    const r2 = await pollAccount(imapWrong, deps());
    assert.equal(r2.error?.code, 'auth', r2.error?.summary);
    const down = await account('user95', { port: 1 });
    const r3 = await pollAccount(down, deps());
    assert.equal(r3.error?.code, 'connect');
  });

  // 2,000 keeps the suite to seconds; FETCH_BIG_COUNT=10000 runs the 10,000 (about a minute on an idle machine).
  const bigCount = Number(process.env.FETCH_BIG_COUNT ?? 2000);
  it(`first poll of a big mailbox (${bigCount} messages over POP3, delete): all arrive once, with progress`, async () => {
    const count = bigCount;
    const corpus = generateCorpus({ count, seed: 96, minKb: 1, maxKb: 4 });
    await loadMaildir('user96', corpus.map((m) => m.raw));
    const dave = await server.addUser('dave@firm.test', 'pw');
    const acct = await account('user96', { keep: 'delete', targetUserId: dave.id });
    const progress: number[] = [];
    const t0 = Date.now();
    const r = await pollAccount(acct, deps({ onProgress: (p) => p.phase === 'fetch' && progress.push(p.done) }));
    const secs = (Date.now() - t0) / 1000;
    assert.equal(r.error, null, r.error?.summary);
    assert.equal(r.fetched, count);
    assert.equal(progress.length, count);
    assert.ok(progress.every((v, i) => i === 0 || v >= progress[i - 1]!));
    const ids = (await inbox(dave)).map(messageId);
    assert.equal(ids.length, count);
    assert.equal(new Set(ids).size, count, 'no duplicates');
    assert.equal(remoteCount('user96'), 0);
    process.stderr.write(`# fetched ${count} messages from Dovecot POP3 in ${secs.toFixed(1)} s\n`);
  });
});
