import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cursor } from '../parser/cursor.js';
import { parseFetchRequest } from './items.js';
import { headerEnd, needsOf } from './render.js';

const needs = (s: string) => needsOf(parseFetchRequest(new Cursor({ tag: 'a', bytes: Buffer.from(s) })).items);

describe('FETCH planning', () => {
  it('loads the index and the bytes only when an item needs them', () => {
    assert.deepEqual(needs('(UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ)'), { index: false, bytes: 'none' });
    assert.deepEqual(needs('(FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])'), { index: false, bytes: 'header' });
    assert.deepEqual(needs('(RFC822.HEADER)'), { index: false, bytes: 'header' });
    assert.deepEqual(needs('(BODY.PEEK[])'), { index: false, bytes: 'whole' });
    assert.deepEqual(needs('(BODY.PEEK[] BODY.PEEK[HEADER])'), { index: true, bytes: 'whole' });
    assert.deepEqual(needs('(BODY[TEXT])'), { index: true, bytes: 'whole' });
    assert.deepEqual(needs('(BODY[1.MIME])'), { index: true, bytes: 'whole' });
    assert.deepEqual(needs('(ENVELOPE)'), { index: true, bytes: 'none' });
    assert.deepEqual(needs('(BINARY.PEEK[])'), { index: false, bytes: 'whole' });
    assert.deepEqual(needs('(BINARY.SIZE[1])'), { index: true, bytes: 'whole' });
  });

  it('finds where a header ends', () => {
    assert.equal(headerEnd(Buffer.from('Subject: x\r\nTo: y\r\n\r\nbody')), 21);
    assert.equal(headerEnd(Buffer.from('\r\nbody')), 2);
    assert.equal(headerEnd(Buffer.from('Subject: x\r\n')), null);
  });
});
