import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { text } from 'node:stream/consumers';
import { Spool } from './spool.js';

test('small messages stay in memory and read back whole, from any offset', async () => {
  const s = new Spool(100);
  await s.write(Buffer.from('hello '));
  await s.write(Buffer.from('world'));
  await s.end();
  assert.equal(s.buffer()?.toString(), 'hello world');
  assert.equal(await text(s.stream()), 'hello world');
  assert.equal(await text(s.stream(3)), 'lo world');
  assert.equal(await text(s.stream(6)), 'world');
  await s.dispose();
});

test('large messages go to a temporary file that dispose() removes', async () => {
  const s = new Spool(10);
  const parts = ['0123456789', 'abcdefghij', 'KLMNOPQRST'];
  for (const p of parts) await s.write(Buffer.from(p));
  await s.end();
  assert.equal(s.buffer(), null);
  assert.equal(s.size, 30);
  assert.equal(await text(s.stream()), parts.join(''));
  assert.equal(await text(s.stream(5)), parts.join('').slice(5));
  assert.equal(await text(s.stream(15)), parts.join('').slice(15));
  const path = (s as unknown as { file: { path: string } }).file.path;
  assert.ok(existsSync(path));
  await s.dispose();
  assert.ok(!existsSync(path));
});
