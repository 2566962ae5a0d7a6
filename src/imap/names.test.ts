import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ImapError } from './errors.js';
import { checkCreatableName, listMatcher, mailboxFromWire, mailboxToWire, parentsOf } from './names.js';

describe('mailbox names', () => {
  it('decodes modified UTF-7 unless UTF-8 is on, and folds INBOX', () => {
    assert.equal(mailboxFromWire(Buffer.from('Entw&APw-rfe'), false), 'Entwürfe');
    assert.equal(mailboxFromWire(Buffer.from('Entw&APw-rfe'), true), 'Entw&APw-rfe');
    assert.equal(mailboxFromWire(Buffer.from('Entwürfe'), true), 'Entwürfe');
    assert.equal(mailboxFromWire(Buffer.from('inbox'), false), 'INBOX');
    assert.equal(mailboxFromWire(Buffer.from('Inbox/Sub'), false), 'INBOX/Sub');
    assert.throws(() => mailboxFromWire(Buffer.from('&Jjo'), false), ImapError);
    assert.throws(() => mailboxFromWire(Buffer.from([0xff, 0xfe]), true), ImapError);
    assert.equal(mailboxToWire('Entwürfe', false), 'Entw&APw-rfe');
    assert.equal(mailboxToWire('Entwürfe', true), 'Entwürfe');
  });

  it('refuses names that cannot be created', () => {
    for (const bad of ['', 'a*b', 'a%', 'a\tb', '/abs', 'a//b']) assert.throws(() => checkCreatableName(bad), ImapError, bad);
    checkCreatableName('Work/2024');
  });

  it('matches LIST patterns', () => {
    const names = ['INBOX', 'INBOX/Sub', 'Work', 'Work/2024', 'Work/2024/Q1', 'Private'];
    const list = (ref: string, pat: string) => names.filter(listMatcher(ref, pat));
    assert.deepEqual(list('', '*'), names);
    assert.deepEqual(list('', '%'), ['INBOX', 'Work', 'Private']);
    assert.deepEqual(list('', 'Work/%'), ['Work/2024']);
    assert.deepEqual(list('Work', '%'), ['Work/2024']);
    assert.deepEqual(list('Work/', '*'), ['Work/2024', 'Work/2024/Q1']);
    assert.deepEqual(list('', 'inbox'), ['INBOX']);
    assert.deepEqual(list('', 'inbox/*'), ['INBOX/Sub']);
    assert.deepEqual(list('', 'W*4'), ['Work/2024']);
    assert.deepEqual(list('', 'a.b'), []);
  });

  it('lists the parents of a name', () => {
    assert.deepEqual(parentsOf('a/b/c'), ['a', 'a/b']);
    assert.deepEqual(parentsOf('a'), []);
  });
});
