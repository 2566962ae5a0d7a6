import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createSecrets, loadOrCreateSecretKey } from './secrets.js';
import { isAuthError } from './errors.js';

const dir = mkdtempSync(join(tmpdir(), 'mailroom-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('loadOrCreateSecretKey creates 32 random bytes with mode 0600, then reads the same key', () => {
  const path = join(dir, 'sub', 'secret.key');
  const key = loadOrCreateSecretKey(path);
  assert.equal(key.length, 32);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readFileSync(path), key);
  assert.deepEqual(loadOrCreateSecretKey(path), key);
  assert.notDeepEqual(loadOrCreateSecretKey(join(dir, 'other.key')), key);
  // No temporary files left behind.
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['secret.key']);
});

test('loadOrCreateSecretKey accepts hex and base64 text keys, refuses wrong lengths', () => {
  const raw = randomBytes(32);
  const hexPath = join(dir, 'hex.key');
  writeFileSync(hexPath, raw.toString('hex') + '\n', { mode: 0o600 });
  assert.deepEqual(loadOrCreateSecretKey(hexPath), raw);
  const b64Path = join(dir, 'b64.key');
  writeFileSync(b64Path, raw.toString('base64') + '\n', { mode: 0o600 });
  assert.deepEqual(loadOrCreateSecretKey(b64Path), raw);
  const shortPath = join(dir, 'short.key');
  writeFileSync(shortPath, randomBytes(16), { mode: 0o600 });
  assert.throws(() => loadOrCreateSecretKey(shortPath), (e) => isAuthError(e, 'secretKey'));
});

test('a key file readable by others is tightened to 0600', () => {
  const path = join(dir, 'loose.key');
  writeFileSync(path, randomBytes(32));
  chmodSync(path, 0o644);
  loadOrCreateSecretKey(path);
  assert.equal(statSync(path).mode & 0o777, 0o600);
});

test('seal/unseal round-trips, with a fresh nonce every time', () => {
  const s = createSecrets(randomBytes(32));
  for (const plain of ['', 'hunter2', 'pässwörd 🔑', 'x'.repeat(10_000)]) {
    const a = s.seal(plain);
    const b = s.seal(plain);
    assert.match(a, /^v1\.[A-Za-z0-9_-]+$/);
    assert.notEqual(a, b, 'random nonce');
    assert.equal(s.unseal(a), plain);
    assert.equal(s.unseal(b), plain);
    assert.ok(!a.includes(Buffer.from(plain).toString('base64url')) || plain === '', 'not merely encoded');
  }
});

test('tampering with any character of a sealed secret is detected', () => {
  const s = createSecrets(randomBytes(32));
  const sealed = s.seal('the password');
  const body = sealed.slice(3);
  for (let i = 0; i < body.length; i++) {
    const c = body[i] === 'A' ? 'B' : 'A';
    const tampered = 'v1.' + body.slice(0, i) + c + body.slice(i + 1);
    // The last character may carry unused base64 bits; decoding can then give the same bytes.
    if (Buffer.from(tampered.slice(3), 'base64url').equals(Buffer.from(body, 'base64url'))) continue;
    assert.throws(() => s.unseal(tampered), (e) => isAuthError(e, 'sealedTampered') || isAuthError(e, 'sealedFormat'), `position ${i}`);
  }
  // Truncated and extended.
  assert.throws(() => s.unseal(sealed.slice(0, -4)), (e) => isAuthError(e, 'sealedTampered'));
  assert.throws(() => s.unseal(sealed + 'AAAA'), (e) => isAuthError(e, 'sealedTampered'));
});

test('a secret sealed with another key does not unseal', () => {
  const sealed = createSecrets(randomBytes(32)).seal('pw');
  assert.throws(() => createSecrets(randomBytes(32)).unseal(sealed), (e) => isAuthError(e, 'sealedTampered'));
});

test('unknown versions and malformed strings are format errors', () => {
  const s = createSecrets(randomBytes(32));
  for (const bad of ['', 'pw', 'v2.' + s.seal('x').slice(3), 'v1.', 'v1.AAAA', 'v1.not base64!']) {
    assert.throws(() => s.unseal(bad), (e) => isAuthError(e, 'sealedFormat'), JSON.stringify(bad));
  }
});

test('createSecrets refuses a key of the wrong size', () => {
  assert.throws(() => createSecrets(randomBytes(16)), (e) => isAuthError(e, 'secretKey'));
});
