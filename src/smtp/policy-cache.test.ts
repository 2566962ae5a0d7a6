import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBus } from '../store/bus.js';
import { createDirBlobStore } from '../store/blobs/dir.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import type { Store } from '../store/types.js';
import { PolicyCache } from './policy-cache.js';

let dir: string;
let store: Store;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailroom-policy-cache-'));
  store = await openSqliteStore({ path: join(dir, 'db.sqlite'), blobs: createDirBlobStore(join(dir, 'blobs')), bus: new LocalBus() });
});

after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('rules are compiled once and refreshed after the TTL', async () => {
  let now = 0;
  const cache = new PolicyCache(store, { relayAuthenticated: true, ttlMs: 5000, now: () => now });
  await store.addAccessRule('denyIp', '192.0.2.0/24');
  let v = await cache.get();
  assert.ok(v.access.denyIp.has('192.0.2.9'));
  await store.addAccessRule('denyIp', '198.51.100.0/24');
  now = 4000;
  v = await cache.get();
  assert.ok(!v.access.denyIp.has('198.51.100.1'), 'still the cached view');
  now = 5001;
  v = await cache.get();
  assert.ok(v.access.denyIp.has('198.51.100.1'), 'refreshed');
  assert.equal(v.relay.authenticated, true);
});

test('a domain added since the last refresh is local at once', async () => {
  const cache = new PolicyCache(store, { relayAuthenticated: false, ttlMs: 60_000 });
  assert.equal(await cache.isLocalDomain('new.example'), false);
  await store.addDomain('new.example');
  assert.equal(await cache.isLocalDomain('new.example'), true);
});

test('concurrent callers share one load', async () => {
  const cache = new PolicyCache(store, { relayAuthenticated: true, ttlMs: 0 });
  const [a, b] = await Promise.all([cache.get(), cache.get()]);
  assert.equal(a, b);
});
