import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { configSchema, type Config } from '../config/schema.js';
import { LocalBus } from '../store/bus.js';
import { createDirBlobStore } from '../store/blobs/dir.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import type { Store, User } from '../store/types.js';
import { ingest } from '../store/ingest.js';
import { createRecipients, createRoute } from './route.js';
import type { MailEnvelope, Route } from './types.js';

const CREDS = { passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', scramSha256: null, sealedSecret: null };

function message(subject = 'hello', body = 'Hello there.\r\n'): Buffer {
  return Buffer.from(`From: sender@remote.example\r\nTo: someone@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@remote.example>\r\n\r\n${body}`);
}

describe('route()', () => {
  let dir: string;
  let store: Store;
  let config: Config;
  let route: Route;
  let n = 0;

  async function user(local: string, extra: Partial<{ quota: number; isAdmin: boolean }> = {}): Promise<User> {
    return store.addUser({ login: `${local}@example.test`, address: `${local}@example.test`, credentials: CREDS, ...extra });
  }

  async function inbox(u: User): Promise<number> {
    const mb = await store.getMailbox(u.id, 'INBOX');
    return (await store.listMessages(mb!.id)).length;
  }

  async function send(rcpts: string[], opts: { withIndex?: boolean; from?: string } = {}) {
    const { blob, index } = await ingest(store.blobs, message(`m${++n}`));
    const env: MailEnvelope = { mailFrom: opts.from ?? 'sender@remote.example', rcptTo: rcpts.map((address) => ({ address })), source: 'mx', id: `t${n}` };
    return { blob, result: await route(env, blob, opts.withIndex === false ? undefined : index) };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailroom-route-'));
    store = await openSqliteStore({ path: join(dir, 'db.sqlite'), blobs: createDirBlobStore(join(dir, 'blobs')), bus: new LocalBus() });
    config = configSchema.parse({});
    route = createRoute({ store, config, logger: pino({ level: 'silent' }) });
    await store.addDomain('example.test');
    await store.addDomain('other.test');
  });

  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a local user gets the message in INBOX', async () => {
    const alice = await user('alice');
    const { result } = await send(['alice@example.test']);
    assert.deepEqual(result.recipients, [{ status: 'delivered', address: 'alice@example.test', userIds: [alice.id] }]);
    assert.equal(await inbox(alice), 1);
  });

  test('without an index, route indexes the blob itself', async () => {
    const bob = await user('bob');
    const { result } = await send(['bob@example.test'], { withIndex: false });
    assert.equal(result.recipients[0]!.status, 'delivered');
    const mb = await store.getMailbox(bob.id, 'INBOX');
    const [rec] = await store.getMessages(mb!.id, [(await store.listMessages(mb!.id))[0]!.uid]);
    assert.equal(rec!.index.subject, `m${n}`);
  });

  test('case of domain and local part does not matter; sub-addresses reach the user', async () => {
    const carol = await user('carol');
    const { result } = await send(['Carol@EXAMPLE.test', 'carol+lists@example.test']);
    assert.equal(result.recipients[0]!.status, 'delivered');
    assert.equal(result.recipients[1]!.status, 'delivered');
    assert.equal(await inbox(carol), 1, 'two addresses of one user: one copy');
  });

  test('an existing user+tag address wins over stripping', async () => {
    const dave = await user('dave');
    const daveTagged = await store.addUser({ login: 'dave+x@example.test', address: 'dave+x@example.test', credentials: CREDS });
    await send(['dave+x@example.test']);
    assert.equal(await inbox(daveTagged), 1);
    assert.equal(await inbox(dave), 0);
  });

  test('unknown local address fails 550 5.1.1; unknown with +tag too', async () => {
    const { result } = await send(['nobody@example.test', 'nobody+x@example.test']);
    for (const r of result.recipients) {
      assert.equal(r.status, 'failed');
      assert.ok(r.status === 'failed' && r.code === 550 && r.enhanced === '5.1.1' && !r.temporary);
    }
  });

  test('aliases expand to several users, one blob, one delivery call per message', async () => {
    const e1 = await user('erin');
    const e2 = await user('frank');
    await store.addAlias('team@example.test', ['erin@example.test', 'frank@example.test', 'team-inner@example.test']);
    await store.addAlias('team-inner@example.test', ['erin@example.test']);
    const { blob, result } = await send(['team@example.test', 'frank@example.test']);
    assert.equal(result.recipients[0]!.status, 'delivered');
    assert.deepEqual(new Set((result.recipients[0] as { userIds: number[] }).userIds), new Set([e1.id, e2.id]));
    assert.equal(await inbox(e1), 1);
    assert.equal(await inbox(e2), 1);
    const mb = await store.getMailbox(e2.id, 'INBOX');
    assert.equal((await store.listMessages(mb!.id))[0]!.blobId, blob.id);
  });

  test('catch-all takes unknown addresses but not existing users or their sub-addresses', async () => {
    const catcher = await user('catcher');
    const gina = await user('gina');
    await store.addAlias('@other.test', ['catcher@example.test']);
    await store.addUser({ login: 'hank@other.test', address: 'hank@other.test', credentials: CREDS });
    const hank = (await store.resolveAddress('hank@other.test')) as { kind: 'user'; user: User };
    await send(['whoever@other.test', 'hank+tag@other.test']);
    assert.equal(await inbox(catcher), 1);
    assert.equal(await inbox(hank.user), 1);
    assert.equal(await inbox(gina), 0);
  });

  test('alias loops fail 554 5.4.6; deep chains too', async () => {
    await store.addAlias('loop-a@example.test', ['loop-b@example.test']);
    await store.addAlias('loop-b@example.test', ['loop-a@example.test']);
    for (let i = 0; i < 12; i++) await store.addAlias(`chain${i}@example.test`, [`chain${i + 1}@example.test`]);
    await user('chain12');
    const { result } = await send(['loop-a@example.test', 'chain0@example.test']);
    for (const r of result.recipients) assert.ok(r.status === 'failed' && r.code === 554 && r.enhanced === '5.4.6', JSON.stringify(r));
  });

  test('a loop with a way out still delivers', async () => {
    const ivy = await user('ivy');
    await store.addAlias('ring-a@example.test', ['ring-b@example.test', 'ivy@example.test']);
    await store.addAlias('ring-b@example.test', ['ring-a@example.test']);
    const { result } = await send(['ring-a@example.test']);
    assert.equal(result.recipients[0]!.status, 'delivered');
    assert.equal(await inbox(ivy), 1);
  });

  test('remote recipients and external alias targets are queued in one entry with the same blob', async () => {
    await store.addAlias('partner@example.test', ['someone@partner.example']);
    const { blob, result } = await send(['x@remote.example', 'partner@example.test']);
    assert.equal(result.recipients[0]!.status, 'queued');
    assert.equal(result.recipients[1]!.status, 'queued');
    const qid = (result.recipients[0] as { queueId: string }).queueId;
    assert.equal((result.recipients[1] as { queueId: string }).queueId, qid);
    const entry = await store.getQueueEntry(qid);
    assert.ok(entry);
    assert.equal(entry.blob.id, blob.id);
    assert.equal(entry.sender, 'sender@remote.example');
    assert.deepEqual(entry.recipients.map((r) => r.address).sort(), ['someone@partner.example', 'x@remote.example']);
    assert.equal(entry.recipients.find((r) => r.address === 'someone@partner.example')!.dsnOrcpt, 'rfc822;partner@example.test');
  });

  test('forwarding: forwardTo queues, keepCopy keeps one in INBOX', async () => {
    const jack = await user('jack');
    const kate = await user('kate');
    await store.updateUser(jack.id, { forwardTo: ['jack@elsewhere.example'], keepCopy: false });
    await store.updateUser(kate.id, { forwardTo: ['kate@elsewhere.example'], keepCopy: true });
    const { result } = await send(['jack@example.test', 'kate@example.test']);
    assert.equal(result.recipients[0]!.status, 'queued');
    assert.equal(result.recipients[1]!.status, 'delivered');
    assert.equal(await inbox(jack), 0);
    assert.equal(await inbox(kate), 1);
    const entry = await store.getQueueEntry((result.recipients[0] as { queueId: string }).queueId);
    assert.deepEqual(entry!.recipients.map((r) => r.address).sort(), ['jack@elsewhere.example', 'kate@elsewhere.example']);
  });

  test('over quota is a temporary failure 452 4.2.2', async () => {
    const lena = await user('lena', { quota: 200 });
    const { result: first } = await send(['lena@example.test']);
    assert.equal(first.recipients[0]!.status, 'delivered');
    const { result } = await send(['lena@example.test']);
    const r = result.recipients[0]!;
    assert.ok(r.status === 'failed' && r.temporary && r.code === 452 && r.enhanced === '4.2.2', JSON.stringify(r));
    assert.equal(await inbox(lena), 1);
    const check = await createRecipients(store, config).checkRcpt('lena@example.test', { size: 150 });
    assert.ok(check.kind === 'tempfail' && check.reply.code === 452, JSON.stringify(check));
  });

  test('RCPT-time check: unknown 550 5.1.1, disabled 550 5.2.1, remote accepted, SIZE counted against quota', async () => {
    const mike = await user('mike', { quota: 10_000 });
    let c = await createRecipients(store, config).checkRcpt('ghost@example.test');
    assert.ok(c.kind === 'reject' && c.reply.code === 550 && c.reply.enhanced === '5.1.1');
    await store.updateUser(mike.id, { enabled: false });
    c = await createRecipients(store, config).checkRcpt('mike@example.test');
    assert.ok(c.kind === 'reject' && c.reply.enhanced === '5.2.1');
    await store.updateUser(mike.id, { enabled: true });
    assert.equal((await createRecipients(store, config).checkRcpt('mike@example.test', { size: 5000 })).kind, 'accept');
    assert.equal((await createRecipients(store, config).checkRcpt('mike@example.test', { size: 20_000 })).kind, 'tempfail');
    assert.equal((await createRecipients(store, config).checkRcpt('far@remote.example')).kind, 'accept');
  });

  test('postmaster always reaches someone: the domainless form and postmaster@domain', async () => {
    const admin = await user('admin', { isAdmin: true });
    const { result } = await send(['postmaster', 'postmaster@example.test']);
    assert.equal(result.recipients[0]!.status, 'delivered');
    assert.equal(result.recipients[1]!.status, 'delivered');
    assert.equal(await inbox(admin), 1);
  });

  test('separator is configurable and can be turned off', async () => {
    const nora = await user('nora');
    const dash = createRoute({ store, config: configSchema.parse({ smtp: { subaddressSeparator: '-' } }), logger: pino({ level: 'silent' }) });
    const off = createRoute({ store, config: configSchema.parse({ smtp: { subaddressSeparator: '' } }), logger: pino({ level: 'silent' }) });
    const { blob, index } = await ingest(store.blobs, message('sep'));
    const env = (address: string): MailEnvelope => ({ mailFrom: '', rcptTo: [{ address }], source: 'local' });
    assert.equal((await dash(env('nora-tag@example.test'), blob, index)).recipients[0]!.status, 'delivered');
    assert.equal((await off(env('nora+tag@example.test'), blob, index)).recipients[0]!.status, 'failed');
    assert.equal(await inbox(nora), 1);
  });

  test('a recipient with sender-specified routing in our domain is not delivered', async () => {
    const { result } = await send(['alice%remote.example@example.test', '"alice@remote.example"@example.test']);
    for (const r of result.recipients) assert.equal(r.status, 'failed');
  });
});
