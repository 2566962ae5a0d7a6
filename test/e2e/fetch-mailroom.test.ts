/**
 * A second mailroom as the provider: fetch over its POP3 (STARTTLS, implicit
 * TLS, APOP) and IMAP (STARTTLS, implicit TLS, several folders), single-drop
 * and multi-drop, keep and delete; and the fetching server's own scheduler
 * polling on its interval.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pino from 'pino';
import { ImapFlow } from 'imapflow';
import { createSecrets, loadOrCreateSecretKey } from '../../src/auth/secrets.js';
import { Pop3Client } from '../../src/fetch/pop3-client.js';
import { pollAccount, type PollDeps } from '../../src/fetch/poller.js';
import type { ExternalAccount, NewExternalAccount, User } from '../../src/store/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
let provider: TestServer;
let local: TestServer;
let secrets: { seal(p: string): string; unseal(s: string): string };
let alice: User;
let bob: User;
let postmaster: User;
let seq = 0;

function raw(n: number, headers = 'To: office@provider.test\r\n'): string {
  return `Message-ID: <p${n}@sender.test>\r\nFrom: Sender <s@sender.test>\r\nSubject: provider message ${n}\r\nAuthentication-Results: mx.provider.test; spf=pass smtp.mailfrom=sender.test\r\n${headers}\r\nBody of ${n}.\r\n.leading dot\r\n`;
}

async function providerUser(name: string): Promise<User> {
  return provider.addUser(`${name}@provider.test`, 'provider-pw');
}

async function providerCount(user: User, folder = 'INBOX'): Promise<number> {
  const mb = await provider.store.getMailbox(user.id, folder);
  return (await provider.store.mailboxStatus(mb!.id)).messages;
}

async function account(extra: Partial<NewExternalAccount> & Pick<NewExternalAccount, 'username'>): Promise<ExternalAccount> {
  return local.store.addExternalAccount({
    name: `prov-${++seq}`,
    protocol: 'pop3',
    host: '127.0.0.1',
    port: provider.port('pop3'),
    tls: 'starttls',
    sealedPassword: secrets.seal('provider-pw'),
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

function deps(): PollDeps {
  return { store: local.store, route: local.route, recipients: local.recipients, config: local.config, secrets, logger, tlsOptions: { ca: provider.tls.cert } };
}

async function inbox(user: User): Promise<string[]> {
  const mb = await local.store.getMailbox(user.id, 'INBOX');
  const out: string[] = [];
  for (const m of await local.store.listMessages(mb!.id)) out.push((await local.store.blobs.read(m.blobId)).toString('utf8'));
  return out;
}

const mid = (text: string) => /^Message-ID: <([^>]+)>/im.exec(text)?.[1] ?? '?';

describe('fetch from another mailroom', () => {
  before(async () => {
    provider = await startTestServer({ hostname: 'mail.provider.test', pop3: { apop: true } }, { services: ['pop3', 'imap'] });
    // The fetching server trusts the provider's certificate through fetch.ca_file (the scheduler test needs it).
    local = await startTestServer(
      { hostname: 'mail.firm.test', fetch: { caFile: join(provider.dataDir, 'tls', 'cert.pem') } },
      { services: ['fetch'] },
    );
    secrets = createSecrets(loadOrCreateSecretKey(join(local.dataDir, local.config.secretKeyFile)));
    alice = await local.addUser('alice@firm.test', 'pw');
    bob = await local.addUser('bob@firm.test', 'pw');
    postmaster = await local.addUser('postmaster@firm.test', 'pw');
  });

  after(async () => {
    await local?.stop();
    await provider?.stop();
  });

  it('POP3 with STARTTLS, single-drop, delete: all delivered once, headers untouched, provider emptied', async () => {
    const office = await providerUser('office1');
    for (let i = 1; i <= 15; i++) await provider.deliver('office1@provider.test', raw(i));
    const before = (await inbox(alice)).length;
    const acct = await account({ username: 'office1@provider.test', keep: 'delete' });
    const r = await pollAccount(acct, deps());
    assert.equal(r.error, null, r.error?.summary);
    assert.equal(r.fetched, 15);
    const got = (await inbox(alice)).slice(before);
    assert.deepEqual(got.map(mid), Array.from({ length: 15 }, (_, i) => `p${i + 1}@sender.test`));
    for (const [i, text] of got.entries()) {
      assert.match(text, /^Received: from 127\.0\.0\.1 \(fetched by mailroom from account prov-\d+\)\r\n\tby mail\.firm\.test with POP3S id /);
      assert.ok(text.endsWith(raw(i + 1)), 'the provider message follows byte for byte');
    }
    assert.equal(await providerCount(office), 0);
  });

  it('POP3 with implicit TLS, keep: a second poll fetches only what is new', async () => {
    const office = await providerUser('office2');
    for (let i = 101; i <= 105; i++) await provider.deliver('office2@provider.test', raw(i));
    const acct = await account({ username: 'office2@provider.test', port: provider.port('pop3', 'implicit'), tls: 'implicit', targetUserId: bob.id });
    assert.equal((await pollAccount(acct, deps())).fetched, 5);
    await provider.deliver('office2@provider.test', raw(106));
    const r = await pollAccount(acct, deps());
    assert.equal(r.fetched, 1);
    assert.equal(await providerCount(office), 6);
    assert.deepEqual((await inbox(bob)).map(mid).slice(-6), ['p101', 'p102', 'p103', 'p104', 'p105', 'p106'].map((x) => `${x}@sender.test`));
  });

  it('POP3 APOP against mailroom: the password never crosses the wire', async () => {
    await providerUser('office3');
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: provider.port('pop3'), tls: 'none' });
    assert.equal(await c.login('office3@provider.test', 'provider-pw', { apop: 'require' }), 'apop');
    await c.quit();
    const acct = await account({ username: 'office3@provider.test', tls: 'none' });
    const r = await pollAccount(acct, deps());
    assert.equal(r.error, null, r.error?.summary);
  });

  it('IMAP with STARTTLS, multi-drop, delete: split among local users, the rest to the fallback', async () => {
    const shared = await providerUser('shared');
    await provider.deliver('shared@provider.test', raw(201, 'Delivered-To: bob@firm.test\r\nTo: everyone@firm.test\r\n'));
    await provider.deliver('shared@provider.test', raw(202, 'To: Alice <alice@firm.test>\r\nCc: partner@outside.test\r\n'));
    await provider.deliver('shared@provider.test', raw(203, 'To: unknown@firm.test\r\n'));
    await provider.deliver('shared@provider.test', raw(204, ''));
    const b = { a: (await inbox(alice)).length, b: (await inbox(bob)).length, p: (await inbox(postmaster)).length };
    const acct = await account({ username: 'shared@provider.test', protocol: 'imap', port: provider.port('imap'), tls: 'starttls', folders: ['INBOX'], mode: 'multi', targetUserId: postmaster.id, keep: 'delete' });
    const r = await pollAccount(acct, deps());
    assert.equal(r.error, null, r.error?.summary);
    assert.equal(r.fetched, 4);
    assert.deepEqual((await inbox(alice)).slice(b.a).map(mid), ['p202@sender.test']);
    assert.deepEqual((await inbox(bob)).slice(b.b).map(mid), ['p201@sender.test']);
    assert.deepEqual((await inbox(postmaster)).slice(b.p).map(mid), ['p203@sender.test', 'p204@sender.test']);
    assert.equal(await providerCount(shared), 0);
    assert.equal((await local.store.listQueue()).length, 0, 'nothing goes back out');
  });

  it('IMAP with implicit TLS, two folders, keep: read-only, \\Seen untouched', async () => {
    const office = await providerUser('office4');
    for (let i = 301; i <= 303; i++) await provider.deliver('office4@provider.test', raw(i));
    // A second folder, filled by APPEND through the provider's IMAP server.
    const client = new ImapFlow({ host: '127.0.0.1', port: provider.port('imap', 'implicit'), secure: true, tls: { ca: provider.tls.cert }, auth: { user: 'office4@provider.test', pass: 'provider-pw' }, logger: false });
    await client.connect();
    await client.mailboxCreate('Archive');
    await client.append('Archive', raw(304));
    await client.logout();
    const acct = await account({ username: 'office4@provider.test', protocol: 'imap', port: provider.port('imap', 'implicit'), tls: 'implicit', folders: ['INBOX', 'Archive'], targetUserId: bob.id });
    const r = await pollAccount(acct, deps());
    assert.equal(r.error, null, r.error?.summary);
    assert.equal(r.fetched, 4);
    assert.deepEqual((await inbox(bob)).map(mid).slice(-4), ['p301', 'p302', 'p303', 'p304'].map((x) => `${x}@sender.test`));
    assert.equal(await providerCount(office), 3);
    assert.equal(await providerCount(office, 'Archive'), 1);
    const mb = await provider.store.getMailbox(office.id, 'INBOX');
    assert.equal((await provider.store.mailboxStatus(mb!.id)).unseen, 3, 'still unread at the provider');
    assert.equal((await pollAccount(acct, deps())).fetched, 0);
  });

  it('IMAP: a folder missing on the provider is reported, the others are still collected', async () => {
    await providerUser('office7');
    await provider.deliver('office7@provider.test', raw(601));
    const frank = await local.addUser('frank@firm.test', 'pw');
    const acct = await account({ username: 'office7@provider.test', protocol: 'imap', port: provider.port('imap'), folders: ['No/Such/Folder', 'INBOX'], targetUserId: frank.id });
    const r = await pollAccount(acct, deps());
    assert.equal(r.fetched, 1);
    assert.equal(r.error?.code, 'unsupported');
    assert.match((await local.store.getExternalAccount(acct.id))!.lastError ?? '', /^unsupported: folder "No\/Such\/Folder" does not exist/);
    assert.deepEqual((await inbox(frank)).map(mid), ['p601@sender.test']);
  });

  it('big messages (3 MB) are streamed over IMAP and POP3, byte-exact', async () => {
    await providerUser('office6');
    const body = Array.from({ length: 40_000 }, (_, i) => (i % 9 === 0 ? '.' : '') + `line ${i} of a big attachment-like body ${'z'.repeat(40)}`).join('\r\n') + '\r\n';
    const big = raw(501, 'To: office6@provider.test\r\n') + body;
    assert.ok(big.length > 3_000_000);
    await provider.deliver('office6@provider.test', big);
    const erin = await local.addUser('erin@firm.test', 'pw');
    const viaImap = await account({ username: 'office6@provider.test', protocol: 'imap', port: provider.port('imap'), folders: ['INBOX'], targetUserId: erin.id });
    const viaPop = await account({ username: 'office6@provider.test', targetUserId: erin.id });
    assert.equal((await pollAccount(viaImap, deps())).fetched, 1);
    assert.equal((await pollAccount(viaPop, deps())).fetched, 1);
    const got = await inbox(erin);
    assert.equal(got.length, 2);
    for (const text of got) assert.ok(text.endsWith(big), 'byte-exact after our Received line');
    assert.match(got[0]!, /with IMAPS id /);
    assert.match(got[1]!, /with POP3S id /);
  });

  it("the fetching server's scheduler polls on its own, and records a wrong password as the account's error", async () => {
    await providerUser('office5');
    for (let i = 401; i <= 403; i++) await provider.deliver('office5@provider.test', raw(i));
    const carol = await local.addUser('carol@firm.test', 'pw');
    // Trust comes from the config (fetch.ca_file), not from the test.
    const good = await account({ username: 'office5@provider.test', interval: 1, targetUserId: carol.id, keep: 'delete' });
    const bad = await account({ username: 'office5@provider.test', interval: 1, sealedPassword: secrets.seal('wrong'), targetUserId: carol.id });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const g = await local.store.getExternalAccount(good.id);
      const b2 = await local.store.getExternalAccount(bad.id);
      if (g?.lastPollAt && g.lastCount === 3 && b2?.lastError) break;
      if (Date.now() > deadline) assert.fail(`scheduler did not poll: ${JSON.stringify({ g, b2 })}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal((await inbox(carol)).length, 3);
    assert.match((await local.store.getExternalAccount(bad.id))!.lastError!, /^auth: /);
    assert.equal((await local.store.getExternalAccount(good.id))!.lastError, null);
  });
});
