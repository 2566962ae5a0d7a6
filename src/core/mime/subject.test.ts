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
