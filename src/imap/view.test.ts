import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cursor, ParseError } from './parser/cursor.js';
import { compressNumbers, formatSequenceSet, parseSequenceSet } from './sequence-set.js';
import { MailboxView } from './view.js';

const seq = (s: string) => {
  const set = parseSequenceSet(new Cursor({ tag: 'a', bytes: Buffer.from(s) }));
  if (set.kind !== 'ranges') throw new Error('saved');
  return set.ranges;
};

describe('sequence sets', () => {
  it('parses and formats', () => {
    for (const s of ['1', '1:*', '*:4', '2,4:7,9,12:*', '$']) {
      assert.equal(formatSequenceSet(parseSequenceSet(new Cursor({ tag: 'a', bytes: Buffer.from(s) }))), s);
    }
    for (const bad of ['0', '1:0', ':3', 'a', ',1']) {
      assert.throws(() => parseSequenceSet(new Cursor({ tag: 'a', bytes: Buffer.from(bad) })), ParseError, bad);
    }
  });

  it('compresses numbers', () => {
    assert.equal(compressNumbers([1, 2, 3, 5, 7, 8]), '1:3,5,7:8');
    assert.equal(compressNumbers([]), '');
  });
});

describe('MailboxView', () => {
  const view = () => new MailboxView([3, 5, 9, 10, 20]);

  it('maps sequence numbers to UIDs', () => {
    const v = view();
    assert.deepEqual(v.uidsForSeqSet(seq('2:3,*')), [5, 9, 20]);
    assert.deepEqual(v.uidsForSeqSet(seq('*:4')), [10, 20]);
    assert.throws(() => v.uidsForSeqSet(seq('6')), ParseError);
    assert.throws(() => new MailboxView().uidsForSeqSet(seq('1:*')), ParseError);
  });

  it('maps UID sets, with n:* always holding the last UID', () => {
    const v = view();
    assert.deepEqual(v.uidsForUidSet(seq('4:10')), [5, 9, 10]);
    assert.deepEqual(v.uidsForUidSet(seq('100:*')), [20]);
    assert.deepEqual(v.uidsForUidSet(seq('1:2')), []);
    assert.deepEqual(new MailboxView().uidsForUidSet(seq('1:*')), []);
  });

  it('tracks appends and expunges', () => {
    const v = view();
    v.append(21);
    v.append(7); // not above the last UID: ignored
    assert.equal(v.count, 6);
    assert.equal(v.remove(9), 3);
    assert.equal(v.remove(9), 0);
    assert.equal(v.seqOf(10), 3);
    assert.equal(v.uidAt(5), 21);
    for (let u = 100; u < 200; u++) v.append(u);
    assert.equal(v.count, 105);
    assert.equal(v.maxUid, 199);
  });

  it('gives UID ranges for sequence ranges', () => {
    assert.deepEqual(view().uidRangesForSeqSet(seq('1:2,4:*')), [[3, 5], [10, 20]]);
  });
});
