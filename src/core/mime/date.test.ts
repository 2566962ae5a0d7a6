import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseMailDate } from './date.js';

test('RFC 5322 dates: instant and the header\'s own calendar day', () => {
  assert.deepEqual(parseMailDate('Mon, 1 Jan 2024 23:30:00 -0500'), { ms: Date.UTC(2024, 0, 2, 4, 30), day: '2024-01-01' });
  assert.deepEqual(parseMailDate('2 Jan 2024 01:00 +0200'), { ms: Date.UTC(2024, 0, 1, 23, 0), day: '2024-01-02' });
  assert.deepEqual(parseMailDate('Fri, 21 Nov 1997 09:55:06 -0600'), { ms: Date.UTC(1997, 10, 21, 15, 55, 6), day: '1997-11-21' });
  assert.deepEqual(parseMailDate('Thu,\r\n 13\r\n  Feb\r\n    1969\r\n  23:32\r\n   -0330 (Newfoundland Time)'), {
    ms: Date.UTC(1969, 1, 14, 3, 2),
    day: '1969-02-13',
  });
});

test('obsolete forms: 2- and 3-digit years, named and military zones, comments, missing zone', () => {
  assert.equal(parseMailDate('21 Nov 97 09:55:06 GMT')?.day, '1997-11-21');
  assert.equal(parseMailDate('21 Nov 07 09:55:06 GMT')?.day, '2007-11-21');
  assert.equal(parseMailDate('21 Nov 107 09:55:06 GMT')?.day, '2007-11-21');
  assert.equal(parseMailDate('Mon, 1 Jan 2024 12:00:00 EST')?.ms, Date.UTC(2024, 0, 1, 17));
  assert.equal(parseMailDate('Mon, 1 Jan 2024 12:00:00 PDT')?.ms, Date.UTC(2024, 0, 1, 19));
  assert.equal(parseMailDate('Mon, 1 Jan 2024 12:00:00 Z')?.ms, Date.UTC(2024, 0, 1, 12));
  assert.equal(parseMailDate('Mon, 1 Jan 2024 12:00:00 +0000 (UTC)')?.ms, Date.UTC(2024, 0, 1, 12));
  assert.equal(parseMailDate('1 Jan 2024 12:00')?.ms, Date.UTC(2024, 0, 1, 12));
  assert.equal(parseMailDate('Monday, 01-Jan-2024 12:00:00 +0100')?.ms, Date.UTC(2024, 0, 1, 11));
  assert.deepEqual(parseMailDate('2024-01-05T23:00:00-05:00'), { ms: Date.UTC(2024, 0, 6, 4), day: '2024-01-05' });
});

test('invalid dates are null, never throw', () => {
  for (const s of [null, undefined, '', 'garbage', '31 Feb 2024 10:00:00 +0000', '1 Foo 2024 10:00', '99 Jan 2024 10:00', '1 Jan 2024 25:00', '(only a comment)']) {
    assert.equal(parseMailDate(s), null, String(s));
  }
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (s) => {
      const d = parseMailDate(s);
      if (d !== null) {
        assert.ok(Number.isFinite(d.ms));
        assert.match(d.day, /^\d{4}-\d{2}-\d{2}$/);
      }
    }),
    { numRuns: 500 },
  );
});
