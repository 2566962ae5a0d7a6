import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isAppendMessageLiteral, parseDateTime } from './append.js';

describe('APPEND helpers', () => {
  it('parses date-time with its zone', () => {
    assert.equal(parseDateTime('17-Jul-1996 02:44:25 -0700')?.toISOString(), '1996-07-17T09:44:25.000Z');
    assert.equal(parseDateTime(' 7-Jul-1996 02:44:25 +0000')?.toISOString(), '1996-07-07T02:44:25.000Z');
    for (const bad of ['17-Jux-1996 02:44:25 -0700', '17-Jul-1996 25:44:25 -0700', '17-Jul-1996', '1996-07-17T02:44:25Z']) {
      assert.equal(parseDateTime(bad), null, bad);
    }
  });

  it('recognises the message literal of an APPEND from the bytes so far', () => {
    const yes = [
      'a APPEND INBOX {10}\r\n',
      'a append "Sent Items" (\\Seen $X) {10+}\r\n',
      'a APPEND INBOX "17-Jul-1996 02:44:25 -0700" ~{10}\r\n',
      'a APPEND {5}\r\nINBOX (\\Seen) {10}\r\n',
      'a APPEND INBOX UTF8 (~{10+}\r\n',
    ];
    const no = ['a APPEND {5}\r\n', 'a LOGIN {5}\r\n', 'a SEARCH TEXT {5}\r\n', 'a APPEND INBOX (\\Seen {5}\r\n'];
    for (const s of yes) assert.equal(isAppendMessageLiteral(Buffer.from(s)), true, s);
    for (const s of no) assert.equal(isAppendMessageLiteral(Buffer.from(s)), false, s);
  });
});
