import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePlain } from './plain.js';

const msg = (s: string) => Buffer.from(s, 'utf8');

test('PLAIN with an empty authzid, or one equal to the authcid', () => {
  assert.deepEqual(parsePlain(msg('\0alice\0pw')), { ok: true, authzid: '', authcid: 'alice', password: 'pw' });
  assert.deepEqual(parsePlain(msg('alice\0alice\0p w\u00e9')), { ok: true, authzid: 'alice', authcid: 'alice', password: 'p w\u00e9' });
  assert.equal(parsePlain(msg('Alice@Example.org\0alice@example.org\0pw')).ok, true);
});

test('PLAIN with a mismatched authzid is refused', () => {
  const r = parsePlain(msg('admin\0alice\0pw'));
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.login, 'alice');
});

test('malformed PLAIN messages are refused', () => {
  for (const bad of ['', 'alice', '\0alice', '\0alice\0pw\0extra', '\0\0pw', '\0alice\0']) {
    assert.equal(parsePlain(msg(bad)).ok, false, JSON.stringify(bad));
  }
  assert.equal(parsePlain(Buffer.from([0, 0x61, 0, 0xff, 0xfe])).ok, false, 'not UTF-8');
  assert.equal(parsePlain(Buffer.alloc(5000, 0x61)).ok, false, 'too long');
});
