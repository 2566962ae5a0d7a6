import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cursor, ParseError } from '../parser/cursor.js';
import { MailboxView } from '../view.js';
import { parseSearchProgram, resolveSearchKey, usesModseq, type ImapSearchKey } from './parse.js';

const parse = (s: string): ImapSearchKey => {
  const c = new Cursor({ tag: 'a', bytes: Buffer.from(s) });
  const k = parseSearchProgram(c);
  c.end();
  return k;
};

describe('SEARCH keys', () => {
  it('parses flags, headers, dates and sizes', () => {
    assert.deepEqual(parse('UNSEEN FROM "Smith" SINCE 1-Feb-1994 NOT LARGER 1000'), {
      op: 'and',
      keys: [
        { op: 'flag', flag: '\\Seen', set: false },
        { op: 'header', field: 'from', value: 'Smith' },
        { op: 'internalDate', cmp: 'since', day: '1994-02-01' },
        { op: 'not', key: { op: 'size', cmp: 'larger', bytes: 1000 } },
      ],
    });
    assert.deepEqual(parse('SENTBEFORE "05-Mar-2020" HEADER X-Spam yes KEYWORD $Junk'), {
      op: 'and',
      keys: [
        { op: 'sentDate', cmp: 'before', day: '2020-03-05' },
        { op: 'header', field: 'x-spam', value: 'yes' },
        { op: 'flag', flag: '$Junk', set: true },
      ],
    });
  });

  it('nests OR, NOT and parentheses', () => {
    assert.deepEqual(parse('OR (SEEN FLAGGED) NOT OR BODY x TEXT {1}\r\ny'), {
      op: 'or',
      keys: [
        { op: 'and', keys: [{ op: 'flag', flag: '\\Seen', set: true }, { op: 'flag', flag: '\\Flagged', set: true }] },
        { op: 'not', key: { op: 'or', keys: [{ op: 'body', value: 'x' }, { op: 'text', value: 'y' }] } },
      ],
    });
  });

  it('parses MODSEQ with and without an entry', () => {
    assert.deepEqual(parse('MODSEQ 620162338'), { op: 'modseq', min: 620162338 });
    const k = parse('MODSEQ "/flags/\\\\draft" all 620162338');
    assert.deepEqual(k, { op: 'modseq', min: 620162338 });
    assert.equal(usesModseq(parse('OR ALL MODSEQ 5')), true);
  });

  it('resolves sequence sets against the view', () => {
    const view = new MailboxView([10, 11, 12, 40]);
    const ctx = {
      seqRanges: (s: any) => view.uidRangesForSeqSet(s.ranges),
      uidRanges: (s: any) => s.ranges,
      recentRanges: () => [],
    };
    assert.deepEqual(resolveSearchKey(parse('2:* UID 5:6'), ctx), {
      op: 'and',
      keys: [{ op: 'uid', ranges: [[11, 40]] }, { op: 'uid', ranges: [[5, 6]] }],
    });
    assert.throws(() => resolveSearchKey(parse('5'), ctx), ParseError);
  });

  it('refuses bad keys', () => {
    for (const bad of ['', 'BOGUS', 'SINCE 32-Jan-2020', 'SINCE 2020-01-01', 'OR SEEN', 'NOT', '(SEEN', 'LARGER x', 'HEADER', 'UID 0', 'SEEN  FLAGGED']) {
      assert.throws(() => parse(bad), ParseError, bad);
    }
  });
});
