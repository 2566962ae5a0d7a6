import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, needsRehash, verifyDummy, verifyPassword } from './password.js';

test('argon2id PHC hash verifies the right password only', async () => {
  const phc = await hashPassword('correct horse battery staple');
  assert.match(phc, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
  assert.equal(await verifyPassword(phc, 'correct horse battery staple'), true);
  assert.equal(await verifyPassword(phc, 'correct horse battery stapl'), false);
  assert.equal(await verifyPassword(phc, ''), false);
});

test('same password hashes differently each time (random salt)', async () => {
  const [a, b] = await Promise.all([hashPassword('pw'), hashPassword('pw')]);
  assert.notEqual(a, b);
  assert.equal(await verifyPassword(b, 'pw'), true);
});

test('unicode passwords round-trip', async () => {
  const phc = await hashPassword('pässwörd-🔑');
  assert.equal(await verifyPassword(phc, 'pässwörd-🔑'), true);
  assert.equal(await verifyPassword(phc, 'passwörd-🔑'), false);
});

test('a malformed stored hash is a failed verification, not a throw', async () => {
  for (const bad of ['', 'plaintext', '$argon2id$garbage', '$2b$10$abcdefghijklmnopqrstuu', '$argon2id$v=19$m=19456,t=2,p=1$$']) {
    assert.equal(await verifyPassword(bad, 'x'), false, bad);
  }
});

test('verifying a non-existent user costs about as much as a real verification', async () => {
  const phc = await hashPassword('pw');
  await verifyDummy('warm-up'); // the dummy hash is made once, lazily
  const time = async (fn: () => Promise<unknown>) => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < 4; i++) await fn();
    return Number(process.hrtime.bigint() - t) / 4e6;
  };
  const real = await time(() => verifyPassword(phc, 'nope'));
  const dummy = await time(() => verifyDummy('nope'));
  assert.equal(await verifyDummy('anything'), false);
  // Same argon2 parameters: same work. Loose bounds, the machine is shared.
  assert.ok(dummy > real * 0.4 && dummy < real * 2.5, `dummy ${dummy} ms vs real ${real} ms`);
  assert.ok(real > 2, `a verification should cost real time, took ${real} ms`);
});

test('needsRehash spots weaker parameters', async () => {
  const weak = await hashPassword('pw', { memoryCost: 1024, timeCost: 1, parallelism: 1 });
  assert.equal(needsRehash(weak), true);
  assert.equal(await verifyPassword(weak, 'pw'), true); // old hashes still verify
  assert.equal(needsRehash(await hashPassword('pw')), false);
  assert.equal(needsRehash('not a hash'), true);
});
