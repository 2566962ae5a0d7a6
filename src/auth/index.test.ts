/**
 * The Authenticator against the real SQLite store: logins by name and
 * address, every SASL mechanism end to end, throttling, credential catch-up.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { configSchema, type Config } from '../config/schema.js';
import { createDirBlobStore } from '../store/blobs/dir.js';
import { LocalBus } from '../store/bus.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import type { Store, User } from '../store/types.js';
import { createAuthenticator, createSecrets } from './index.js';
import { isAuthError } from './errors.js';
import { ScramSha256Client } from './scram-client.js';
import type { Authenticator, LoginContext, SaslExchange } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'mailroom-auth-'));
let store: Store;
const secrets = createSecrets(randomBytes(32));
let t = 1_700_000_000_000;
const now = () => t;
const advance = (seconds: number) => (t += seconds * 1000);

function config(overrides: Record<string, unknown> = {}): Config {
  return configSchema.parse({ hostname: 'mail.test', ...overrides });
}
const ALL = { auth: { mechanisms: ['PLAIN', 'LOGIN', 'CRAM-MD5', 'SCRAM-SHA-256'] } };

let nextIp = 1;
/** A fresh client address per test, so tests do not throttle each other. */
function ctx(extra: Partial<LoginContext> = {}): LoginContext {
  const n = nextIp++;
  return { ip: `198.51.${(n >> 8) & 255}.${n & 255}`, protocol: 'imap', secure: true, ...extra };
}

async function addUser(auth: Authenticator, login: string, address: string, password: string): Promise<User> {
  const domain = address.split('@')[1]!;
  if (!(await store.getDomain(domain))) await store.addDomain(domain);
  return store.addUser({ login, address, credentials: await auth.deriveCredentials(password) });
}

/** Drive an exchange: `replies` answer successive challenges. */
async function run(ex: SaslExchange, initial: Buffer | null, replies: Array<(challenge: Buffer) => Buffer | null>) {
  let step = await ex.step(initial);
  for (const reply of replies) {
    if (step.kind !== 'challenge') break;
    step = await ex.step(reply(step.data));
  }
  return step;
}

before(async () => {
  store = await openSqliteStore({ path: join(dir, 'mailroom.db'), blobs: createDirBlobStore(join(dir, 'blobs')), bus: new LocalBus() });
  await store.migrate();
});

after(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('deriveCredentials keeps a sealed password only for CRAM-MD5 or APOP', async () => {
  const plain = await createAuthenticator({ store, config: config(), secrets }).deriveCredentials('pw1');
  assert.match(plain.passwordHash, /^\$argon2id\$/);
  assert.match(plain.scramSha256 ?? '', /^4096\$/);
  assert.equal(plain.sealedSecret, null);
  const cram = await createAuthenticator({ store, config: config(ALL), secrets }).deriveCredentials('pw2');
  assert.equal(secrets.unseal(cram.sealedSecret!), 'pw2');
  const apop = await createAuthenticator({ store, config: config({ pop3: { apop: true } }), secrets }).deriveCredentials('pw3');
  assert.equal(secrets.unseal(apop.sealedSecret!), 'pw3');
  await assert.rejects(createAuthenticator({ store, config: config(), secrets }).deriveCredentials(''), (e) => isAuthError(e, 'password'));
});

test('log in by login name or by any of the user\'s addresses', async () => {
  const auth = createAuthenticator({ store, config: config(), secrets, now });
  const alice = await addUser(auth, 'alice', 'alice@example.org', 'wonderland');
  await store.addAddress(alice.id, 'a.liddell@example.org');
  for (const login of ['alice', 'ALICE', 'alice@example.org', 'Alice@Example.ORG', 'a.liddell@example.org']) {
    const r = await auth.verifyPassword(login, 'wonderland', ctx());
    assert.ok(r.ok, login);
    assert.equal(r.user.id, alice.id);
  }
  assert.deepEqual(await auth.verifyPassword('alice', 'Wonderland', ctx()), { ok: false, reason: 'invalid' });
  assert.deepEqual(await auth.verifyPassword('nobody@example.org', 'wonderland', ctx()), { ok: false, reason: 'invalid' });
  assert.deepEqual(await auth.verifyPassword('alice', '', ctx()), { ok: false, reason: 'invalid' });
  assert.deepEqual(await auth.verifyPassword('ali\0ce', 'wonderland', ctx()), { ok: false, reason: 'invalid' });
});

test('an alias or catch-all address is not a login', async () => {
  const auth = createAuthenticator({ store, config: config(), secrets, now });
  await addUser(auth, 'carl', 'carl@alias.test', 'pw-carl');
  await store.addAlias('sales@alias.test', ['carl@alias.test']);
  await store.addAlias('@alias.test', ['carl@alias.test']);
  assert.equal((await auth.verifyPassword('sales@alias.test', 'pw-carl', ctx())).ok, false);
  assert.equal((await auth.verifyPassword('anything@alias.test', 'pw-carl', ctx())).ok, false);
  assert.equal((await auth.verifyPassword('carl@alias.test', 'pw-carl', ctx())).ok, true);
});

test('a disabled user is told so only after the right password', async () => {
  const auth = createAuthenticator({ store, config: config(), secrets, now });
  const u = await addUser(auth, 'dora', 'dora@example.org', 'explorer');
  await store.updateUser(u.id, { enabled: false });
  assert.deepEqual(await auth.verifyPassword('dora', 'wrong', ctx()), { ok: false, reason: 'invalid' });
  assert.deepEqual(await auth.verifyPassword('dora', 'explorer', ctx()), { ok: false, reason: 'disabled' });
  const plainEx = auth.startSasl('PLAIN', ctx())!;
  const r = await plainEx.step(Buffer.from('\0dora\0explorer'));
  assert.equal(r.kind === 'failure' && r.result.reason, 'disabled');
});

test('thousands of wrong passwords from one IP are throttled, then refused without cost', async () => {
  const auth = createAuthenticator({ store, config: config(), secrets, now }); // 10 per IP
  const erin = await addUser(auth, 'erin', 'erin@example.org', 'right-password');
  const c = ctx({ protocol: 'pop3' });
  // Ten guesses at different logins (so no account is throttled), each a real argon2 check.
  for (let i = 0; i < 10; i++) assert.deepEqual(await auth.verifyPassword(`guess${i}@example.org`, 'x', c), { ok: false, reason: 'invalid' });
  const started = process.hrtime.bigint();
  const results = [];
  for (let i = 0; i < 3000; i++) results.push(await auth.verifyPassword(i % 2 ? 'erin' : `guess${i}`, i % 2 ? 'right-password' : 'x', c));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  for (const r of results) assert.deepEqual(r, { ok: false, reason: 'throttled', retryAfter: 2 });
  // 3000 argon2 verifications would take minutes; refusals are nearly free.
  assert.ok(ms < 3000, `3000 refusals took ${ms} ms`);
  assert.equal(auth.throttledFor(c.ip), 2);
  // Concurrent attempts are refused too, even the right password.
  const burst = await Promise.all(Array.from({ length: 500 }, () => auth.verifyPassword('erin', 'right-password', c)));
  assert.ok(burst.every((r) => !r.ok && r.reason === 'throttled'));
  // Other clients are unaffected.
  assert.ok((await auth.verifyPassword('erin', 'right-password', ctx())).ok);
  // After the wait the client may try again; the next failure doubles the wait.
  advance(2);
  assert.equal(auth.throttledFor(c.ip), 0);
  assert.deepEqual(await auth.verifyPassword('guess-more', 'x', c), { ok: false, reason: 'invalid' });
  assert.equal(auth.throttledFor(c.ip), 4);
  advance(4);
  const ok = await auth.verifyPassword('erin', 'right-password', c);
  assert.ok(ok.ok && ok.user.id === erin.id);
});

test('a flood of concurrent wrong passwords from one IP checks at most max-failures of them', async () => {
  const auth = createAuthenticator({ store, config: config({ auth: { maxFailuresPerIp: 3 } }), secrets, now });
  const c = ctx();
  const started = process.hrtime.bigint();
  const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => auth.verifyPassword(`flood${i}`, 'x', c)));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(results.filter((r) => !r.ok && r.reason === 'invalid').length, 3);
  assert.equal(results.filter((r) => !r.ok && r.reason === 'throttled').length, 997);
  assert.ok(ms < 3000, `took ${ms} ms`);
});

test('failures on one account from many IPs throttle the account; a success resets it', async () => {
  const auth = createAuthenticator({ store, config: config(), secrets, now }); // 5 per account
  await addUser(auth, 'frank', 'frank@example.org', 'pw-frank');
  // Four failures, then a success: the count is cleared.
  for (let i = 0; i < 4; i++) assert.equal((await auth.verifyPassword('frank', 'bad', ctx())).ok, false);
  assert.ok((await auth.verifyPassword('frank@example.org', 'pw-frank', ctx())).ok);
  for (let i = 0; i < 4; i++) assert.deepEqual(await auth.verifyPassword('frank', 'bad', ctx()), { ok: false, reason: 'invalid' });
  assert.ok((await auth.verifyPassword('frank', 'pw-frank', ctx())).ok, 'still allowed: the success reset the count');
  // Five failures from five clients, by login and by address alike: the account waits.
  for (let i = 0; i < 5; i++) await auth.verifyPassword(i % 2 ? 'frank' : 'frank@example.org', 'bad', ctx());
  const refused = await auth.verifyPassword('frank', 'pw-frank', ctx());
  assert.deepEqual(refused, { ok: false, reason: 'throttled', retryAfter: 2 });
  assert.equal(auth.throttledFor(ctx().ip, 'frank'), 2);
  advance(2);
  assert.ok((await auth.verifyPassword('frank', 'pw-frank', ctx())).ok);
});

test('plaintext policy decides which mechanisms are offered', () => {
  const mk = (plaintext: string) => createAuthenticator({ store, config: config({ auth: { ...ALL.auth, plaintext } }), secrets });
  const lo = { ip: '127.0.0.1', protocol: 'imap', secure: false } as const;
  const lo6 = { ...lo, ip: '::1' };
  const mapped = { ...lo, ip: '::ffff:127.0.0.2' };
  const remote = { ...lo, ip: '203.0.113.9' };
  const tls = { ...remote, secure: true };
  const loopback = mk('loopback');
  assert.deepEqual([lo, lo6, mapped, remote, tls].map((c) => loopback.plaintextAllowed(c)), [true, true, true, false, true]);
  assert.deepEqual(loopback.mechanisms(remote), ['CRAM-MD5', 'SCRAM-SHA-256']);
  assert.deepEqual(loopback.mechanisms(tls), ['PLAIN', 'LOGIN', 'CRAM-MD5', 'SCRAM-SHA-256']);
  assert.equal(loopback.startSasl('PLAIN', remote), null);
  assert.notEqual(loopback.startSasl('plain', tls), null);
  assert.equal(loopback.startSasl('DIGEST-MD5', tls), null);
  assert.equal(loopback.startSasl('SCRAM-SHA-256-PLUS', tls), null);
  assert.deepEqual([lo, remote, tls].map((c) => mk('never').plaintextAllowed(c)), [false, false, true]);
  assert.deepEqual([lo, remote, tls].map((c) => mk('always').plaintextAllowed(c)), [true, true, true]);
  // Mechanisms not configured are not offered.
  const dflt = createAuthenticator({ store, config: config(), secrets });
  assert.deepEqual(dflt.mechanisms(tls), ['PLAIN', 'LOGIN']);
  assert.equal(dflt.startSasl('SCRAM-SHA-256', tls), null);
});

test('SASL PLAIN with and without an initial response; a mismatched authzid is refused', async () => {
  const auth = createAuthenticator({ store, config: config(ALL), secrets, now });
  const g = await addUser(auth, 'gina', 'gina@example.org', 'pw gina');
  let r = await auth.startSasl('PLAIN', ctx())!.step(Buffer.from('\0gina\0pw gina'));
  assert.ok(r.kind === 'success' && r.user.id === g.id);
  r = await run(auth.startSasl('PLAIN', ctx())!, null, [(ch) => (assert.equal(ch.length, 0), Buffer.from('gina@example.org\0gina@example.org\0pw gina'))]);
  assert.ok(r.kind === 'success' && r.user.id === g.id);
  // Right password, but asking to act as someone else.
  r = await auth.startSasl('PLAIN', ctx())!.step(Buffer.from('alice\0gina\0pw gina'));
  assert.deepEqual(r, { kind: 'failure', result: { ok: false, reason: 'invalid' } });
  r = await auth.startSasl('PLAIN', ctx())!.step(Buffer.from('\0gina\0wrong'));
  assert.deepEqual(r, { kind: 'failure', result: { ok: false, reason: 'invalid' } });
  for (const bad of [Buffer.from('gina'), Buffer.alloc(0), Buffer.from([0, 0xff, 0, 0xfe]), Buffer.alloc(100_000, 1)]) {
    r = await auth.startSasl('PLAIN', ctx())!.step(bad);
    assert.equal(r.kind, 'failure');
  }
  // An exchange that has ended stays ended.
  const ex = auth.startSasl('PLAIN', ctx())!;
  await ex.step(Buffer.from('\0gina\0pw gina'));
  assert.equal((await ex.step(Buffer.from('\0gina\0pw gina'))).kind, 'failure');
});

test('SASL LOGIN asks for the username and password', async () => {
  const auth = createAuthenticator({ store, config: config(ALL), secrets, now });
  const h = await addUser(auth, 'hal', 'hal@example.org', '9000');
  const prompts: string[] = [];
  let r = await run(auth.startSasl('LOGIN', ctx())!, null, [
    (ch) => (prompts.push(ch.toString()), Buffer.from('hal')),
    (ch) => (prompts.push(ch.toString()), Buffer.from('9000')),
  ]);
  assert.deepEqual(prompts, ['Username:', 'Password:']);
  assert.ok(r.kind === 'success' && r.user.id === h.id);
  // SMTP style: the username as the initial response.
  r = await run(auth.startSasl('LOGIN', ctx())!, Buffer.from('hal@example.org'), [() => Buffer.from('9000')]);
  assert.ok(r.kind === 'success');
  r = await run(auth.startSasl('LOGIN', ctx())!, Buffer.from('hal'), [() => Buffer.from('8999')]);
  assert.deepEqual(r, { kind: 'failure', result: { ok: false, reason: 'invalid' } });
  r = await run(auth.startSasl('LOGIN', ctx())!, Buffer.from('hal'), [() => null]);
  assert.equal(r.kind, 'failure');
});

test('SASL CRAM-MD5 and verifyCramMd5', async () => {
  const auth = createAuthenticator({ store, config: config(ALL), secrets, now });
  const i = await addUser(auth, 'ivy', 'ivy@example.org', 'poison');
  const digest = (secret: string, challenge: string) => createHmac('md5', secret).update(challenge).digest('hex');
  let challenge = '';
  let r = await run(auth.startSasl('CRAM-MD5', ctx())!, null, [
    (ch) => ((challenge = ch.toString()), Buffer.from(`ivy ${digest('poison', challenge)}`)),
  ]);
  assert.match(challenge, /^<\d+\.\d+@mail\.test>$/);
  assert.ok(r.kind === 'success' && r.user.id === i.id);
  r = await run(auth.startSasl('CRAM-MD5', ctx())!, null, [(ch) => Buffer.from(`ivy ${digest('antidote', ch.toString())}`)]);
  assert.deepEqual(r, { kind: 'failure', result: { ok: false, reason: 'invalid' } });
  r = await run(auth.startSasl('CRAM-MD5', ctx())!, null, [() => Buffer.from('garbage')]);
  assert.equal(r.kind, 'failure');
  assert.equal((await auth.startSasl('CRAM-MD5', ctx())!.step(Buffer.from('early'))).kind, 'failure');
  // Two challenges are never the same.
  const c1 = await auth.startSasl('CRAM-MD5', ctx())!.step(null);
  const c2 = await auth.startSasl('CRAM-MD5', ctx())!.step(null);
  assert.ok(c1.kind === 'challenge' && c2.kind === 'challenge' && !c1.data.equals(c2.data));

  // The smtp-server path: challenge and response given directly.
  const ch = '<123.456@mail.test>';
  assert.ok((await auth.verifyCramMd5('ivy', ch, digest('poison', ch).toUpperCase(), ctx({ protocol: 'submission' }))).ok);
  assert.equal((await auth.verifyCramMd5('ivy', ch, digest('poison', 'other'), ctx())).ok, false);
  assert.equal((await auth.verifyCramMd5('ivy', ch, 'zz', ctx())).ok, false);
  assert.equal((await auth.verifyCramMd5('nobody', ch, digest('poison', ch), ctx())).ok, false);
  // Not enabled: refused even with the right digest.
  const off = createAuthenticator({ store, config: config(), secrets, now });
  assert.equal((await off.verifyCramMd5('ivy', ch, digest('poison', ch), ctx())).ok, false);
});

test('SASL SCRAM-SHA-256 end to end with an independent client', async () => {
  const auth = createAuthenticator({ store, config: config(ALL), secrets, now });
  const j = await addUser(auth, 'jo', 'jo@example.org', 'pässwörd');
  const scram = async (user: string, password: string, opts: { authzid?: string; initial?: boolean; tamper?: (s: string) => string } = {}) => {
    const client = new ScramSha256Client(user, password, opts.authzid === undefined ? {} : { authzid: opts.authzid });
    const ex = auth.startSasl('SCRAM-SHA-256', ctx())!;
    let step = opts.initial === false ? await ex.step(null) : await ex.step(Buffer.from(client.clientFirst()));
    if (opts.initial === false) {
      assert.ok(step.kind === 'challenge' && step.data.length === 0);
      step = await ex.step(Buffer.from(client.clientFirst()));
    }
    if (step.kind !== 'challenge') return { step, client, serverFirst: '' };
    const serverFirst = step.data.toString();
    const final = (opts.tamper ?? ((s) => s))(client.clientFinal(serverFirst));
    return { step: await ex.step(Buffer.from(final)), client, serverFirst };
  };

  let { step, client } = await scram('jo', 'pässwörd');
  assert.ok(step.kind === 'success' && step.user.id === j.id);
  assert.ok(step.data && client.verifyServerFinal(step.data.toString()), 'server-final proves the server');
  ({ step } = await scram('jo@example.org', 'pa\u0308ssw\u00f6rd', { initial: false })); // decomposed ä: SASLprep makes it the same
  assert.equal(step.kind, 'success');
  ({ step } = await scram('jo', 'pässwörd', { authzid: 'jo' }));
  assert.equal(step.kind, 'success');

  // Wrong proof.
  ({ step } = await scram('jo', 'passwort'));
  assert.deepEqual(step, { kind: 'failure', result: { ok: false, reason: 'invalid' } });
  // Someone else's authzid.
  ({ step } = await scram('jo', 'pässwörd', { authzid: 'alice' }));
  assert.equal(step.kind, 'failure');
  // Nonce or channel binding changed between messages.
  ({ step } = await scram('jo', 'pässwörd', { tamper: (s) => s.replace(/r=([^,]+)/, 'r=$1x') }));
  assert.equal(step.kind, 'failure');
  ({ step } = await scram('jo', 'pässwörd', { tamper: (s) => s.replace('c=biws', 'c=eSws') }));
  assert.equal(step.kind, 'failure');
  // Channel binding requested: we do not offer -PLUS.
  const ex = auth.startSasl('SCRAM-SHA-256', ctx())!;
  assert.equal((await ex.step(Buffer.from('p=tls-unique,,n=jo,r=abc'))).kind, 'failure');

  // A login that does not exist gets a server-first (stable salt) and fails at the proof.
  const a = await scram('nobody@example.org', 'x');
  const b = await scram('nobody@example.org', 'y');
  const salt = (s: string) => /,s=([^,]+),/.exec(s)?.[1];
  assert.ok(salt(a.serverFirst) && salt(a.serverFirst) === salt(b.serverFirst));
  assert.match(a.serverFirst, /,i=4096$/);
  assert.deepEqual(a.step, { kind: 'failure', result: { ok: false, reason: 'invalid' } });
  // A client that walks away after client-first leaves nothing behind to block the next attempt.
  const walker = auth.startSasl('SCRAM-SHA-256', { ip: '192.0.2.200', protocol: 'imap', secure: true })!;
  await walker.step(Buffer.from(new ScramSha256Client('jo', 'x').clientFirst()));
  assert.equal(auth.throttledFor('192.0.2.200', 'jo'), 0);
});

test('SCRAM attempts are throttled like any other', async () => {
  const auth = createAuthenticator({ store, config: config({ auth: { ...ALL.auth, maxFailuresPerIp: 2 } }), secrets, now });
  await addUser(auth, 'kim', 'kim@example.org', 'pw-kim');
  const c = ctx();
  // Three exchanges all get past client-first before any proof arrives...
  const exchanges = await Promise.all(
    ['a', 'b', 'pw-kim'].map(async (password) => {
      const client = new ScramSha256Client('kim', password);
      const ex = auth.startSasl('SCRAM-SHA-256', c)!;
      const first = await ex.step(Buffer.from(client.clientFirst()));
      assert.equal(first.kind, 'challenge');
      return { ex, final: client.clientFinal(first.kind === 'challenge' ? first.data.toString() : '') };
    }),
  );
  // ...but only two guesses are checked: the third proof (even a right one) meets the throttle.
  const results = [];
  for (const { ex, final } of exchanges) results.push(await ex.step(Buffer.from(final)));
  assert.deepEqual(results.map((r) => (r.kind === 'failure' ? r.result.reason : r.kind)), ['invalid', 'invalid', 'throttled']);
  // A new exchange is refused at client-first.
  const again = await auth.startSasl('SCRAM-SHA-256', c)!.step(Buffer.from(new ScramSha256Client('kim', 'pw-kim').clientFirst()));
  assert.ok(again.kind === 'failure' && again.result.reason === 'throttled');
});

test('APOP digests', async () => {
  const auth = createAuthenticator({ store, config: config({ pop3: { apop: true } }), secrets, now });
  await addUser(auth, 'lee', 'lee@example.org', 'tanstaaf');
  const ts = '<1896.697170952@dbc.mtview.ca.us>';
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  assert.ok((await auth.verifyApop('lee', ts, md5(ts + 'tanstaaf'), ctx({ protocol: 'pop3' }))).ok);
  assert.equal((await auth.verifyApop('lee', ts, md5(ts + 'wrong'), ctx())).ok, false);
  assert.equal((await auth.verifyApop('lee', ts, 'not-hex', ctx())).ok, false);
  const off = createAuthenticator({ store, config: config(), secrets, now });
  assert.equal((await off.verifyApop('lee', ts, md5(ts + 'tanstaaf'), ctx())).ok, false);
});

test('credentials catch up with the configuration at the next password login', async () => {
  const plainAuth = createAuthenticator({ store, config: config(), secrets, now });
  const u = await addUser(plainAuth, 'max', 'max@example.org', 'pw-max');
  // An old row: argon2 hash only.
  const { passwordHash } = await plainAuth.deriveCredentials('pw-max');
  await store.setCredentials(u.id, { passwordHash, scramSha256: null, sealedSecret: null });
  const cramAuth = createAuthenticator({ store, config: config(ALL), secrets, now });
  assert.ok((await cramAuth.verifyPassword('max', 'pw-max', ctx())).ok);
  let creds = (await store.getCredentials(u.id))!;
  assert.equal(creds.passwordHash, passwordHash, 'a good hash is kept');
  assert.match(creds.scramSha256 ?? '', /^4096\$/);
  assert.equal(secrets.unseal(creds.sealedSecret!), 'pw-max');
  // SCRAM and CRAM-MD5 now work for this user.
  const client = new ScramSha256Client('max', 'pw-max');
  const ex = cramAuth.startSasl('SCRAM-SHA-256', ctx())!;
  const first = await ex.step(Buffer.from(client.clientFirst()));
  assert.ok(first.kind === 'challenge');
  assert.equal((await ex.step(Buffer.from(client.clientFinal(first.data.toString())))).kind, 'success');
  // CRAM-MD5 switched off again: the password-equivalent is dropped.
  assert.ok((await plainAuth.verifyPassword('max', 'pw-max', ctx())).ok);
  creds = (await store.getCredentials(u.id))!;
  assert.equal(creds.sealedSecret, null);
  assert.match(creds.scramSha256 ?? '', /^4096\$/);
});

test('one log line per failure with protocol, ip and login', async () => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  const auth = createAuthenticator({ store, config: config(), secrets, now, logger: pino({ level: 'info' }, sink) });
  const c = ctx({ protocol: 'smtp' });
  await auth.verifyPassword('mallory', 'x', c);
  await auth.verifyPassword('mallory@example.org', 'y', c);
  await new Promise((r) => setImmediate(r));
  const failures = lines.filter((l) => l.msg === 'auth failed');
  assert.equal(failures.length, 2);
  assert.equal(failures[0]!.protocol, 'smtp');
  assert.equal(failures[0]!.ip, c.ip);
  assert.equal(failures[0]!.login, 'mallory');
  assert.equal(failures[1]!.login, 'mallory@example.org');
  assert.ok(!JSON.stringify(lines).includes('"x"'), 'passwords are never logged');
});

test('store trouble is a tempfail, not a failure counted against the client', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'mailroom-auth-closed-'));
  try {
    const s = await openSqliteStore({ path: join(tmp, 'db'), blobs: createDirBlobStore(join(tmp, 'blobs')), bus: new LocalBus() });
    await s.migrate();
    const auth = createAuthenticator({ store: s, config: config({ auth: { maxFailuresPerIp: 1 } }), secrets, now });
    await s.close();
    const c = ctx();
    assert.deepEqual(await auth.verifyPassword('anyone', 'pw', c), { ok: false, reason: 'tempfail' });
    assert.deepEqual(await auth.verifyPassword('anyone', 'pw', c), { ok: false, reason: 'tempfail' });
    assert.equal(auth.throttledFor(c.ip), 0);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
