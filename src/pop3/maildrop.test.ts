import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageMeta } from '../store/types.js';
import { Maildrop, uidlOf } from './maildrop.js';

const meta = (uid: number, size: number): MessageMeta => ({ uid, size, blobId: `b${uid}`, modseq: uid, flags: [], internalDate: new Date(0) });

describe('Maildrop', () => {
  const make = () => Maildrop.fromMeta(7, 0x6b0453d4, [meta(12, 100), meta(5, 50), meta(30, 7)]);

  it('numbers messages 1..n in UID order and sums sizes', () => {
    const d = make();
    assert.equal(d.total, 3);
    assert.deepEqual([...d.live()].map(([n, m]) => [n, m.uid]), [[1, 5], [2, 12], [3, 30]]);
    assert.deepEqual(d.stat(), { count: 3, size: 157 });
  });

  it('DELE marks hide a message; RSET brings it back; numbers never shift', () => {
    const d = make();
    d.delete(2);
    assert.deepEqual(d.get(2), { ok: false, why: 'deleted' });
    assert.deepEqual(d.stat(), { count: 2, size: 57 });
    assert.deepEqual([...d.live()].map(([n]) => n), [1, 3]);
    assert.equal(d.get(3).ok, true);
    assert.deepEqual(d.deletedUids(), [12]);
    d.reset();
    assert.deepEqual(d.stat(), { count: 3, size: 157 });
    assert.deepEqual(d.deletedUids(), []);
  });

  it('reports numbers out of range', () => {
    const d = make();
    for (const n of [0, -1, 4, 1.5, Number.NaN]) assert.deepEqual(d.get(n), { ok: false, why: 'noSuchMessage' }, String(n));
  });

  it('derives UIDL from UIDVALIDITY and UID: printable, <= 70 chars, distinct', () => {
    const d = make();
    const ids = [...d.live()].map(([, m]) => d.uidl(m));
    assert.deepEqual(ids, ['6b0453d400000005', '6b0453d40000000c', '6b0453d40000001e']);
    assert.equal(uidlOf(0xffffffff, 0xffffffff), 'ffffffffffffffff');
    for (const id of ids) assert.match(id, /^[\x21-\x7e]{1,70}$/);
  });
});
