import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseSubject, extractBaseSubject } from './subject.js';

test('RFC 5256 base subject', () => {
  const cases: Array<[string, string, boolean]> = [
    ['Hello', 'Hello', false],
    ['Re: Hello', 'Hello', true],
    ['RE: re: Re:Hello', 'Hello', true],
    ['Fwd: Hello', 'Hello', true],
    ['Fw: Hello', 'Hello', true],
    ['fwd : Hello', 'Hello', true],
    ['Re[2]: Hello', 'Hello', true],
    ['Re [list]: Hello', 'Hello', true],
    ['[list] Re: Hello', 'Hello', true],
    ['[list] Hello', 'Hello', false],
    ['[list]', '[list]', false], // a blob that would leave nothing stays
    ['[a][b] Hello', 'Hello', false],
    ['Hello (fwd)', 'Hello', true],
    ['Hello (fwd) (FWD)  ', 'Hello', true],
    ['[fwd: Hello]', 'Hello', true],
    ['[Fwd: Re: [list] Hello (fwd)]', 'Hello', true],
    ['Re: [fwd: Re: Hello]', 'Hello', true],
    ['  Hello \t  world  ', 'Hello world', false],
    ['Re:', '', true],
    ['', '', false],
    ['Reply: Hello', 'Reply: Hello', false],
    ['Re: Re: [fwd: [list] x]', 'x', true],
  ];
  for (const [input, base, flag] of cases) {
    assert.deepEqual(extractBaseSubject(input), { base, isReplyOrForward: flag }, JSON.stringify(input));
  }
  assert.equal(baseSubject('Re: Grüße'), 'Grüße');
});

/** The RFC's steps written with regular expressions, one blob at a time: slow, but obviously right. */
function referenceBase(subject: string): { base: string; isReplyOrForward: boolean } {
  const LEADER = /^(?:\[[^[\]]*\][ \t]*)*(?:re|fwd?)[ \t]*(?:\[[^[\]]*\][ \t]*)?:/i;
  const BLOB = /^\[[^[\]]*\][ \t]*/;
  let flag = false;
  let s = subject.replace(/\r?\n(?=[ \t])/g, '').replace(/[\t\r\n]/g, ' ').replace(/ {2,}/g, ' ');
  for (;;) {
    for (;;) {
      if (s.endsWith(' ')) s = s.slice(0, -1);
      else if (s.slice(-5).toLowerCase() === '(fwd)') {
        s = s.slice(0, -5);
        flag = true;
      } else break;
    }
    for (let found = true; found; ) {
      found = false;
      for (;;) {
        if (/^[ \t]/.test(s)) {
          s = s.replace(/^[ \t]+/, '');
          found = true;
          continue;
        }
        const m = LEADER.exec(s);
        if (m === null) break;
        s = s.slice(m[0].length);
        flag = true;
        found = true;
      }
      const b = BLOB.exec(s);
      if (b !== null && s.slice(b[0].length).trim() !== '') {
        s = s.slice(b[0].length);
        found = true;
      }
    }
    if (s.length >= 6 && s.slice(0, 5).toLowerCase() === '[fwd:' && s.endsWith(']')) {
      s = s.slice(5, -1);
      flag = true;
      continue;
    }
    return { base: s, isReplyOrForward: flag };
  }
}

test('property: the linear implementation equals the step-by-step reference', async () => {
  const fc = (await import('fast-check')).default;
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom('Re', 're', 'RE', 'Fw', 'fwd', 'FWD', ':', '[', ']', ' ', '\t', 'a', 'b', '(fwd)', '[fwd:', '[x] ', 'Re: '), { maxLength: 16 }).map((p) => p.join('')),
      (s) => assert.deepEqual(extractBaseSubject(s), referenceBase(s), JSON.stringify(s)),
    ),
    { numRuns: 3000 },
  );
});

test('pathological subjects stay linear', () => {
  const t = performance.now();
  for (const s of ['Re: '.repeat(60000) + 'x', '[a] '.repeat(60000) + 'x', 'x' + ' (fwd)'.repeat(40000), '[fwd: '.repeat(40000) + 'x' + ']'.repeat(40000)]) extractBaseSubject(s);
  assert.ok(performance.now() - t < 3000, `took ${performance.now() - t} ms`);
});
