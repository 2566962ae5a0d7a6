import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cursor, ParseError } from '../parser/cursor.js';
import { parseFetchRequest, sectionName, setsSeen } from './items.js';

const parse = (s: string) => {
  const c = new Cursor({ tag: 'a', bytes: Buffer.from(s) });
  const r = parseFetchRequest(c);
  c.end();
  return r;
};

describe('FETCH items', () => {
  it('expands macros', () => {
    assert.deepEqual(parse('FAST').items.map((i) => i.kind), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
    assert.deepEqual(parse('full').items.map((i) => i.kind), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY']);
  });

  it('parses sections and partials', () => {
    const r = parse('(UID BODY.PEEK[HEADER.FIELDS (From "Subject")]<0.2048> BODY[1.2.MIME] BINARY[2]<5.10> BINARY.SIZE[1] BODY[] RFC822.SIZE)');
    const [uid, hf, mime, bin, binSize, whole] = r.items;
    assert.deepEqual(uid, { kind: 'UID' });
    assert.ok(hf?.kind === 'SECTION' && hf.peek && hf.section.text === 'HEADER.FIELDS');
    assert.deepEqual(hf.partial, { start: 0, length: 2048 });
    assert.equal(sectionName(hf.section), 'HEADER.FIELDS (FROM SUBJECT)');
    assert.ok(mime?.kind === 'SECTION' && sectionName(mime.section) === '1.2.MIME');
    assert.ok(bin?.kind === 'SECTION' && bin.binary && bin.section.part.join() === '2');
    assert.ok(binSize?.kind === 'BINARY.SIZE');
    assert.ok(whole?.kind === 'SECTION' && sectionName(whole.section) === '' && !whole.peek);
    assert.equal(setsSeen(r.items), true);
    assert.equal(setsSeen(parse('(BODY.PEEK[] FLAGS)').items), false);
  });

  it('parses CONDSTORE/QRESYNC modifiers', () => {
    assert.deepEqual(parse('(FLAGS) (CHANGEDSINCE 12345 VANISHED)').modifiers, { changedSince: 12345, vanished: true });
  });

  it('refuses nonsense', () => {
    for (const bad of ['', '()', 'BODY[', 'BODY[1.]', 'BODY[MIME]', 'BODY[0]', 'BINARY[HEADER]', 'BODY[]<1>', 'BODY[]<0.0>', 'FOO', '(FLAGS', '(FLAGS) (BOGUS)', 'BODY[HEADER.FIELDS ()]']) {
      assert.throws(() => parse(bad), ParseError, bad);
    }
  });
});
