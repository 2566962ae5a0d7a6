import { test } from 'node:test';
import assert from 'node:assert/strict';
import { saslprep, scramPassword } from './saslprep.js';

test('RFC 4013 section 3 examples', () => {
  assert.equal(saslprep('I\u00ADX'), 'IX'); // soft hyphen mapped to nothing
  assert.equal(saslprep('user'), 'user');
  assert.equal(saslprep('USER'), 'USER'); // case preserved
  assert.equal(saslprep('\u00AA'), 'a'); // NFKC
  assert.equal(saslprep('\u2168'), 'IX'); // NFKC
  assert.equal(saslprep('\u0007'), null); // prohibited control
  assert.equal(saslprep('\u0627\u0031'), null); // bidi: must end with RandALCat
});

test('non-ASCII spaces become spaces; zero-width characters vanish', () => {
  assert.equal(saslprep('a\u00A0b\u3000c'), 'a b c');
  assert.equal(saslprep('pa\uFEFFss\u200D'), 'pass');
  assert.equal(saslprep('a\u200Bb'), 'a b'); // listed as a space (C.1.2) too, and spaces are mapped first
  assert.equal(saslprep('A\u030A'), '\u00C5'); // composed by NFKC
});

test('prohibited: private use, non-characters, lone surrogates', () => {
  assert.equal(saslprep('a\uE000'), null);
  assert.equal(saslprep('a\uFFFF'), null);
  assert.equal(saslprep('a\uD800b'), null);
  assert.equal(saslprep('a\u0085'), null);
});

test('right-to-left strings are fine when they keep the bidi rule', () => {
  assert.equal(saslprep('\u0627\u0031\u0628'), '\u0627\u0031\u0628');
  assert.equal(saslprep('שלום'), 'שלום');
  assert.equal(saslprep('abcש'), null);
});

test('scramPassword falls back to the password as given when SASLprep refuses it', () => {
  assert.equal(scramPassword('I\u00ADX'), 'IX');
  assert.equal(scramPassword('tab\there'), 'tab\there');
});
