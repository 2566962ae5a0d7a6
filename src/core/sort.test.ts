import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sortMessages, type SortItem } from './sort.js';

const item = (id: number, p: Partial<SortItem>): SortItem => ({
  id, arrival: 0, size: 0, sentDate: null, baseSubject: '', sortFrom: '', sortTo: '', sortCc: '', ...p,
});

describe('SORT', () => {
  const items = [
    item(1, { arrival: 300, size: 50, sentDate: 1000, baseSubject: 'b', sortFrom: 'zed' }),
    item(2, { arrival: 100, size: 10, sentDate: null, baseSubject: 'A', sortFrom: 'adam' }),
    item(3, { arrival: 200, size: 50, sentDate: 500, baseSubject: 'a', sortFrom: 'Bob' }),
  ];

  it('sorts by each key, ties in mailbox order', () => {
    assert.deepEqual(sortMessages(items, [{ key: 'ARRIVAL', reverse: false }]), [2, 3, 1]);
    assert.deepEqual(sortMessages(items, [{ key: 'SIZE', reverse: false }]), [2, 1, 3]);
    assert.deepEqual(sortMessages(items, [{ key: 'SIZE', reverse: true }]), [1, 3, 2]);
    // DATE falls back to the internal date (2 has no Date header: 100).
    assert.deepEqual(sortMessages(items, [{ key: 'DATE', reverse: false }]), [2, 3, 1]);
    assert.deepEqual(sortMessages(items, [{ key: 'SUBJECT', reverse: false }]), [2, 3, 1]);
    assert.deepEqual(sortMessages(items, [{ key: 'FROM', reverse: false }]), [2, 3, 1]);
  });

  it('applies criteria in order', () => {
    assert.deepEqual(sortMessages(items, [{ key: 'SUBJECT', reverse: true }, { key: 'ARRIVAL', reverse: true }]), [1, 3, 2]);
  });
});
