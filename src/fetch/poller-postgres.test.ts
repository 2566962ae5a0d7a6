/**
 * The poller on PostgreSQL, where several mailroom nodes share one store:
 * two nodes polling one account at the same moment (only one may), and the
 * crash-recovery lookup on PostgreSQL's search. A throw-away database; skips
 * only when PostgreSQL is unreachable and CI is not 'true'.
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
import { openPostgresStore } from '../store/postgres/index.js';
import { createTestDatabase, pgSkipReason, type TestDatabase } from '../store/postgres/testing.js';
import type { NewExternalAccount, Store, User } from '../store/types.js';
import { pollAccount, type PollDeps } from './poller.js';
import { startResponder, type Responder, type ResponderMessage } from './pop3-responder.fixture.js';

const skip = (await pgSkipReason()) ?? false;
const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
const secrets = createSecrets(randomBytes(32));
const creds = { passwordHash: 'unused', scramSha256: null, sealedSecret: null };

describe('pollAccount on PostgreSQL (two nodes)', { skip }, () => {
  let db: TestDatabase;
  let dir: string;
  let config: Config;
  let node1: { store: Store; route: Route };
  let node2: { store: Store; route: Route };
  let alice: User;
  const responders: Responder[] = [];

  before(async () => {
    db = await createTestDatabase('mailroom_fetch');
    dir = mkdtempSync(join(tmpdir(), 'mailroom-fetch-pg-'));
    config = loadConfig({ overrides: { dataDir: dir, hostname: 'mail.firm.test' }, env: {}, cwd: dir }).config;
    const open = async () => {
      const store = await openPostgresStore({ url: db.url, blobs: 'postgres' });
      await store.migrate();
      return { store, route: createRoute({ store, config, logger }) };
    };
    node1 = await open();
    node2 = await open();
    await node1.store.addDomain('firm.test');
    alice = await node1.store.addUser({ login: 'alice@firm.test', address: 'alice@firm.test', credentials: creds });
  });

  after(async () => {
    for (const r of responders) await r.close();
    await node1?.store.close();
    await node2?.store.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const mails = (prefix: string, n: number): ResponderMessage[] =>
    Array.from({ length: n }, (_, i) => ({ uid: `${prefix}-${i}`, body: Buffer.from(`Message-ID: <${prefix}${i}@sender.test>\r\nSubject: ${i}\r\nTo: x@provider.test\r\n\r\n${'body line\r\n'.repeat(30)}`) }));

  async function account(r: Responder, name: string, extra: Partial<NewExternalAccount> = {}) {
    return node1.store.addExternalAccount({
      name,
      protocol: 'pop3',
      host: '127.0.0.1',
      port: r.port,
      tls: 'none',
      username: 'alice',
      sealedPassword: secrets.seal('secret'),
      interval: 300,
      folders: [],
      keep: 'delete',
      deleteAfterDays: 0,
      mode: 'single',
      targetUserId: alice.id,
      enabled: true,
      ...extra,
    });
  }

  const deps = (node: { store: Store; route: Route }, owner: string, extra: Partial<PollDeps> = {}): PollDeps => ({ store: node.store, route: node.route, recipients: createRecipients(node.store, config), config, secrets, logger, owner, ...extra });

  async function ids(user: User): Promise<string[]> {
    const mb = await node1.store.getMailbox(user.id, 'INBOX');
    const out: string[] = [];
    for (const m of await node1.store.listMessages(mb!.id)) out.push(/Message-ID: <([^>]+)>/.exec((await node1.store.blobs.read(m.blobId)).toString())![1]!);
    return out;
  }

  it('two nodes polling the same account at once: one polls, the other is told it is busy; every message once', async () => {
    const r = await startResponder(mails('two', 40));
    responders.push(r);
    const acct = await account(r, 'shared');
    const [a, b] = await Promise.all([pollAccount(acct, deps(node1, 'node-1')), pollAccount(acct, deps(node2, 'node-2'))]);
    const ran = [a, b].filter((x) => !x.skipped);
    const skipped = [a, b].filter((x) => x.skipped);
    assert.equal(ran.length, 1);
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0]!.error?.code, 'busy');
    assert.equal(ran[0]!.fetched, 40);
    assert.equal(r.sessions, 1, 'only one node connected to the provider');
    // Afterwards the other node polls normally and finds nothing new.
    const again = await pollAccount(acct, deps(node2, 'node-2'));
    assert.equal(again.skipped, false);
    assert.equal(again.fetched, 0);
    assert.equal((await ids(alice)).filter((x) => x.startsWith('two')).length, 40);
    assert.equal(r.messages.length, 0);
  });

  it('a node that died after delivering, before marking seen: the next poll (another node, once the lease ran out) finds the message and does not deliver it twice', async () => {
    const r = await startResponder(mails('dead', 3));
    responders.push(r);
    const acct = await account(r, 'crashy');
    let calls = 0;
    const dying: Route = async (env, blob, index) => {
      const res = await node1.route(env, blob, index);
      if (++calls === 2) return new Promise(() => undefined);
      return res;
    };
    void pollAccount(acct, deps({ store: node1.store, route: dying }, 'node-1', { leaseMs: 60_000 }));
    while (calls < 2) await new Promise((res) => setTimeout(res, 10));
    // The dead node's lease stops being renewed only when its process dies; here it is still "alive",
    // so take the lock over by hand as an expired lease would allow.
    await node1.store.unlock('fetch:' + acct.id, 'node-1');
    const res = await pollAccount(acct, deps(node2, 'node-2'));
    assert.equal(res.error, null, res.error?.summary);
    assert.deepEqual((await ids(alice)).filter((x) => x.startsWith('dead')), ['dead0@sender.test', 'dead1@sender.test', 'dead2@sender.test']);
    assert.equal(r.messages.length, 0);
  });
});
