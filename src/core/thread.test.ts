import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatThreads, normaliseMessageId, threadOrderedSubject, threadReferences, type ThreadItem } from './thread.js';

const msg = (id: number, p: Partial<ThreadItem>): ThreadItem => ({
  id, sentDate: id * 1000, arrival: id * 1000, subject: '', baseSubject: '', messageId: `<m${id}@x>`, inReplyTo: null, references: [], ...p,
});

describe('THREAD ORDEREDSUBJECT', () => {
  it('groups by base subject, first message as parent, threads by date', () => {
    const items = [
      msg(1, { baseSubject: 'b' }),
      msg(2, { baseSubject: 'a' }),
      msg(3, { baseSubject: 'b' }),
      msg(4, { baseSubject: 'a' }),
      msg(5, { baseSubject: 'b' }),
      msg(6, { baseSubject: 'c' }),
    ];
    assert.equal(formatThreads(threadOrderedSubject(items)), '(1 (3)(5))(2 4)(6)');
  });
});

describe('THREAD REFERENCES', () => {
  it('builds trees from References and In-Reply-To', () => {
    const items = [
      msg(1, { subject: 'hello', baseSubject: 'hello' }),
      msg(2, { subject: 'Re: hello', baseSubject: 'hello', references: ['<m1@x>'] }),
      msg(3, { subject: 'Re: hello', baseSubject: 'hello', inReplyTo: '<m1@x>' }),
      msg(4, { subject: 'Re: hello', baseSubject: 'hello', references: ['<m1@x>', '<m2@x>'] }),
      msg(5, { subject: 'other', baseSubject: 'other' }),
    ];
    assert.equal(formatThreads(threadReferences(items)), '(1 (2 4)(3))(5)');
  });

  it('keeps a dummy root for siblings whose parent is missing', () => {
    const items = [
      msg(1, { subject: 'x', baseSubject: 'x', references: ['<gone@x>'] }),
      msg(2, { subject: 'y', baseSubject: 'y', references: ['<gone@x>'] }),
    ];
    assert.equal(formatThreads(threadReferences(items)), '((1)(2))');
  });

  it('promotes the single child of a missing parent', () => {
    const items = [msg(1, { subject: 'x', baseSubject: 'x', references: ['<gone@x>'] })];
    assert.equal(formatThreads(threadReferences(items)), '(1)');
  });

  it('merges threads by subject: replies under the original', () => {
    const items = [
      msg(1, { subject: 'Lunch', baseSubject: 'lunch', messageId: '<a@x>' }),
      msg(2, { subject: 'Re: Lunch', baseSubject: 'lunch', messageId: '<b@x>' }),
    ];
    assert.equal(formatThreads(threadReferences(items)), '(1 2)');
  });

  it('survives loops, duplicates and missing ids', () => {
    const items = [
      msg(1, { messageId: '<a@x>', references: ['<b@x>'] }),
      msg(2, { messageId: '<b@x>', references: ['<a@x>'] }),
      msg(3, { messageId: '<a@x>' }),
      msg(4, { messageId: null }),
    ];
    const out = formatThreads(threadReferences(items));
    for (const n of ['1', '2', '3', '4']) assert.ok(out.includes(n), out);
  });

  it('normalises quoted message ids', () => {
    assert.equal(normaliseMessageId('<"01KF8JCEOCBS0045PS"@xxx.yyy.com>'), normaliseMessageId('<01KF8JCEOCBS0045PS@XXX.yyy.com>'));
  });
});
