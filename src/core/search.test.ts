import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dayStartUtc, headerSearchText, headerTextHas, matchesSearch, utcDay, type SearchableMessage } from './search.js';
import type { SearchKey } from './search-key.js';

const msg = (over: Partial<SearchableMessage> = {}, index: Partial<SearchableMessage['index']> = {}): SearchableMessage => ({
  uid: 7,
  modseq: 12,
  flags: ['\\Seen', '$Work'],
  internalDate: new Date(Date.UTC(2024, 0, 2, 23, 30)),
  size: 1000,
  ...over,
  index: {
    headers: [
      ['subject', 'Quarterly Invoice für Straße'],
      ['from', 'Ann <ann@example.org>'],
      ['x-multi', 'line one\r\nline two'],
    ],
    text: 'Hello ΣΟΦΙΑ,\r\nplease pay.',
    sentDay: '2024-01-03',
    ...index,
  },
});

const m = (key: SearchKey, message = msg(), now?: number) => matchesSearch(key, message, { now });

describe('matchesSearch', () => {
  it('boolean structure', () => {
    assert.equal(m({ op: 'all' }), true);
    assert.equal(m({ op: 'and', keys: [] }), true);
    assert.equal(m({ op: 'or', keys: [] }), false);
    assert.equal(m({ op: 'not', key: { op: 'all' } }), false);
    assert.equal(m({ op: 'or', keys: [{ op: 'not', key: { op: 'all' } }, { op: 'uid', ranges: [[7, 7]] }] }), true);
  });

  it('uid ranges are inclusive and may come reversed', () => {
    assert.equal(m({ op: 'uid', ranges: [[1, 6]] }), false);
    assert.equal(m({ op: 'uid', ranges: [[1, 6], [9, 7]] }), true);
    assert.equal(m({ op: 'uid', ranges: [] }), false);
  });

  it('flags compare case-insensitively, set and unset', () => {
    assert.equal(m({ op: 'flag', flag: '\\SEEN', set: true }), true);
    assert.equal(m({ op: 'flag', flag: '$work', set: true }), true);
    assert.equal(m({ op: 'flag', flag: '\\Deleted', set: false }), true);
    assert.equal(m({ op: 'flag', flag: '\\Seen', set: false }), false);
  });

  it('internal date by UTC day; sent date by the header day, else the internal date day', () => {
    assert.equal(m({ op: 'internalDate', cmp: 'on', day: '2024-01-02' }), true);
    assert.equal(m({ op: 'internalDate', cmp: 'before', day: '2024-01-03' }), true);
    assert.equal(m({ op: 'internalDate', cmp: 'before', day: '2024-01-02' }), false);
    assert.equal(m({ op: 'internalDate', cmp: 'since', day: '2024-01-03' }), false);
    assert.equal(m({ op: 'sentDate', cmp: 'on', day: '2024-01-03' }), true);
    assert.equal(m({ op: 'sentDate', cmp: 'since', day: '2024-01-04' }), false);
    assert.equal(m({ op: 'sentDate', cmp: 'on', day: '2024-01-02' }, msg({}, { sentDay: null })), true);
    assert.throws(() => m({ op: 'internalDate', cmp: 'on', day: '2024-02-30' }), RangeError);
  });

  it('size, modseq, age', () => {
    assert.equal(m({ op: 'size', cmp: 'larger', bytes: 999 }), true);
    assert.equal(m({ op: 'size', cmp: 'larger', bytes: 1000 }), false);
    assert.equal(m({ op: 'size', cmp: 'smaller', bytes: 1001 }), true);
    assert.equal(m({ op: 'modseq', min: 12 }), true);
    assert.equal(m({ op: 'modseq', min: 13 }), false);
    const t = Date.UTC(2024, 0, 2, 23, 30);
    assert.equal(m({ op: 'age', cmp: 'older', seconds: 60 }, msg(), t + 60_000), true);
    assert.equal(m({ op: 'age', cmp: 'younger', seconds: 60 }, msg(), t + 60_000), false);
    assert.equal(m({ op: 'age', cmp: 'younger', seconds: 61 }, msg(), t + 60_000), true);
  });

  it('header, body and text: case-insensitive substrings (Unicode)', () => {
    assert.equal(m({ op: 'header', field: 'SUBJECT', value: 'INVOICE FÜR' }), true);
    assert.equal(m({ op: 'header', field: 'subject', value: 'straße' }), true);
    assert.equal(m({ op: 'header', field: 'from', value: 'invoice' }), false);
    assert.equal(m({ op: 'header', field: 'x-multi', value: 'one line' }), true, 'line breaks in a value search as spaces');
    assert.equal(m({ op: 'header', field: 'cc', value: '' }), false);
    assert.equal(m({ op: 'header', field: 'from', value: '' }), true);
    assert.equal(m({ op: 'body', value: 'σοφια' }), true);
    assert.equal(m({ op: 'body', value: 'Quarterly' }), false);
    assert.equal(m({ op: 'body', value: '' }), true);
    assert.equal(m({ op: 'text', value: 'quarterly' }), true);
    assert.equal(m({ op: 'text', value: 'from: ann' }), true, 'TEXT includes field names');
    assert.equal(m({ op: 'text', value: 'PLEASE' }), true);
    assert.equal(m({ op: 'text', value: 'absent' }), false);
  });
});

describe('search text helpers', () => {
  it('headerSearchText and headerTextHas agree with matchesSearch', () => {
    const h: Array<[string, string]> = [
      ['Subject', 'Hi there'],
      ['x-a', 'a\nb'],
    ];
    const text = headerSearchText(h);
    assert.equal(text, 'subject: Hi there\nx-a: a b');
    assert.equal(headerTextHas(text, 'SUBJECT', 'hi t'), true);
    assert.equal(headerTextHas(text, 'x-a', 'a b'), true);
    assert.equal(headerTextHas(text, 'x-a', ''), true);
    assert.equal(headerTextHas(text, 'x', ''), false);
    assert.equal(headerTextHas(text, 'subject', 'x-a'), false);
  });

  it('days', () => {
    assert.equal(dayStartUtc('2024-02-29'), Date.UTC(2024, 1, 29));
    assert.throws(() => dayStartUtc('2023-02-29'));
    assert.throws(() => dayStartUtc('yesterday'));
    assert.equal(utcDay(Date.UTC(2024, 0, 1, 23, 59, 59, 999)), '2024-01-01');
    assert.equal(utcDay(-1), '1969-12-31');
  });
});
