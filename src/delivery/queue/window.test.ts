import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWindow } from './window.js';

// Local time, as the window is in server local time.
const local = (y: number, mo: number, d: number, h: number, mi: number, s = 0) => new Date(y, mo - 1, d, h, mi, s);

test('"always" is always open', () => {
  const w = parseWindow('always');
  const now = new Date();
  assert.equal(w.isOpen(now), true);
  assert.equal(w.nextOpen(now), now);
});

test('a weekday office-hours window', () => {
  const w = parseWindow('* 8-18 * * 1-5');
  // 2024-01-03 is a Wednesday.
  assert.equal(w.isOpen(local(2024, 1, 3, 8, 0)), true);
  assert.equal(w.isOpen(local(2024, 1, 3, 18, 59, 59)), true);
  assert.equal(w.isOpen(local(2024, 1, 3, 19, 0)), false);
  assert.equal(w.isOpen(local(2024, 1, 3, 7, 59, 30)), false);
  assert.equal(w.isOpen(local(2024, 1, 6, 12, 0)), false, 'Saturday');
  assert.deepEqual(w.nextOpen(local(2024, 1, 3, 19, 30)), local(2024, 1, 4, 8, 0));
  assert.deepEqual(w.nextOpen(local(2024, 1, 5, 20, 0)), local(2024, 1, 8, 8, 0), 'Friday night → Monday');
  const open = local(2024, 1, 3, 9, 15, 20);
  assert.equal(w.nextOpen(open), open);
});

test('a window of a few minutes an hour', () => {
  const w = parseWindow('0-4 * * * *');
  assert.equal(w.isOpen(local(2024, 1, 3, 10, 4, 59)), true);
  assert.equal(w.isOpen(local(2024, 1, 3, 10, 5, 0)), false);
  assert.deepEqual(w.nextOpen(local(2024, 1, 3, 10, 30)), local(2024, 1, 3, 11, 0));
});

test('a bad pattern is refused with the key name', () => {
  assert.throws(() => parseWindow('every day'), /queue\.window/);
  assert.throws(() => parseWindow('* 25 * * *'), /queue\.window/);
});
