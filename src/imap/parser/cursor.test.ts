import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cursor, ParseError } from './cursor.js';

const cur = (s: string, streamedAt?: number) => new Cursor(streamedAt === undefined ? { tag: 'a', bytes: Buffer.from(s, 'latin1') } : { tag: 'a', bytes: Buffer.from(s, 'latin1'), streamedAt });

describe('Cursor', () => {
  it('reads atoms, quoted strings and literals as astrings', () => {
    const c = cur('joe "pa ss\\"w\\\\" {3}\r\nx y');
    assert.equal(c.astringText(), 'joe');
    c.sp();
    assert.equal(c.astringText(), 'pa ss"w\\');
    c.sp();
    assert.equal(c.astringText(), 'x y');
    c.end();
  });

  it('refuses bad quoting', () => {
    assert.throws(() => cur('"abc').astring(), ParseError);
    assert.throws(() => cur('"a\\bc"').astring(), ParseError);
    assert.throws(() => cur('{5}\r\nab').astring(), ParseError);
    assert.throws(() => cur('').astring(), ParseError);
    assert.throws(() => cur('(x)').astring(), ParseError);
  });

  it('recognises a streamed literal', () => {
    const c = cur('APPEND {10}\r\n', 13);
    c.atom();
    c.sp();
    assert.deepEqual(c.literal(), { streamed: true, size: 10, binary: false });
  });

  it('reads lists, flags, numbers and NIL', () => {
    const c = cur('(\\Seen $Forwarded \\*) NIL 4294967295 4294967296');
    assert.throws(() => cur('(\\*)').flagList());
    assert.deepEqual(c.list((x) => x.flag(true)), ['\\Seen', '$Forwarded', '\\*']);
    c.sp();
    assert.equal(c.nstring(), null);
    c.sp();
    assert.equal(c.number32(), 4294967295);
    c.sp();
    assert.throws(() => c.number32(), ParseError);
  });

  it('matches keywords only as whole words', () => {
    const c = cur('NILS');
    assert.equal(c.tryWord('NIL'), false);
    assert.equal(c.tryWord('nils'), true);
  });

  it('reads list-mailbox patterns with wildcards', () => {
    const c = cur('INBOX/* %');
    assert.equal(c.listMailbox().toString(), 'INBOX/*');
    c.sp();
    assert.equal(c.listMailbox().toString(), '%');
  });
});
