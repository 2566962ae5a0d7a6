import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineReader, parseCommand, parseNumber, type LineResult } from './parser.js';

/** Feed `input` in chunks of `size` bytes, collecting every result but needMore. */
function replay(input: Buffer, size: number, maxLine?: number): Array<Exclude<LineResult, { kind: 'needMore' }>> {
  const r = new LineReader(maxLine);
  const out: Array<Exclude<LineResult, { kind: 'needMore' }>> = [];
  for (let i = 0; i < input.length; i += size) {
    r.push(input.subarray(i, i + size));
    for (let x = r.next(); x.kind !== 'needMore'; x = r.next()) out.push(x);
  }
  return out;
}

function everyChunking(input: Buffer, maxLine?: number) {
  const whole = replay(input, input.length || 1, maxLine);
  for (let size = 1; size <= 512; size++) assert.deepEqual(replay(input, size, maxLine), whole, `chunks of ${size}`);
  return whole;
}

describe('LineReader', () => {
  it('splits CRLF and bare LF lines the same at every chunk size', () => {
    const input = Buffer.from('USER alice\r\nPASS two words \r\nSTAT\nLIST 1\r\n\r\nRETR 2\r\nQUIT');
    const lines = everyChunking(input);
    assert.deepEqual(lines, [
      { kind: 'line', line: 'USER alice' },
      { kind: 'line', line: 'PASS two words ' },
      { kind: 'line', line: 'STAT' },
      { kind: 'line', line: 'LIST 1' },
      { kind: 'line', line: '' },
      { kind: 'line', line: 'RETR 2' },
    ]);
  });

  it('reports an overlong line once, skips it, and goes on with the next', () => {
    const input = Buffer.concat([Buffer.from('NOOP\r\n'), Buffer.alloc(3000, 'A'), Buffer.from('\r\nSTAT\r\n')]);
    const lines = everyChunking(input, 100);
    assert.deepEqual(lines, [{ kind: 'line', line: 'NOOP' }, { kind: 'tooLong' }, { kind: 'line', line: 'STAT' }]);
  });

  it('accepts a line of exactly the bound, with or without CR', () => {
    const at = 'X'.repeat(100);
    assert.deepEqual(everyChunking(Buffer.from(`${at}\r\n${at}\n`), 100), [
      { kind: 'line', line: at },
      { kind: 'line', line: at },
    ]);
    assert.deepEqual(everyChunking(Buffer.from(`${at}Y\n`), 100), [{ kind: 'tooLong' }]);
  });

  it('never holds more than the bound while a line has no end', () => {
    const r = new LineReader(64);
    for (let i = 0; i < 1000; i++) {
      r.push(Buffer.alloc(50, 'z'));
      r.next();
      assert.ok(r.buffered <= 64 + 50, `buffered ${r.buffered}`);
    }
  });

  it('keeps binary garbage byte for byte (latin1) so nothing is misread', () => {
    const bytes = Buffer.from([0x00, 0xff, 0xc3, 0x28, 0x0d, 0x0a]);
    const [line] = everyChunking(bytes);
    assert.deepEqual(line, { kind: 'line', line: '\u0000\u00ff\u00c3(' });
  });

  it('clear() drops what was buffered (plaintext pipelined after STLS)', () => {
    const r = new LineReader();
    r.push(Buffer.from('STLS\r\nUSER evil\r\nPASS x\r\n'));
    assert.deepEqual(r.next(), { kind: 'line', line: 'STLS' });
    r.clear();
    assert.deepEqual(r.next(), { kind: 'needMore' });
    r.push(Buffer.from('CAPA\r\n'));
    assert.deepEqual(r.next(), { kind: 'line', line: 'CAPA' });
  });
});

describe('parseCommand', () => {
  it('upper-cases the keyword and splits arguments', () => {
    assert.deepEqual(parseCommand('top 1 10'), { ok: true, command: { name: 'TOP', args: ['1', '10'], rest: '1 10' } });
    assert.deepEqual(parseCommand('Stat'), { ok: true, command: { name: 'STAT', args: [], rest: '' } });
  });

  it('keeps the rest of the line as sent (PASS with spaces)', () => {
    const r = parseCommand('PASS  my  secret ');
    assert.ok(r.ok);
    assert.equal(r.command.rest, ' my  secret ');
    assert.deepEqual(r.command.args, ['my', 'secret']);
  });

  it('rejects empty lines and keywords that are not words', () => {
    assert.deepEqual(parseCommand(''), { ok: false, reason: 'empty' });
    assert.deepEqual(parseCommand('   '), { ok: false, reason: 'empty' });
    assert.deepEqual(parseCommand('\u0000\u00ff'), { ok: false, reason: 'badKeyword' });
    assert.deepEqual(parseCommand('RETR1'), { ok: false, reason: 'badKeyword' });
    assert.deepEqual(parseCommand(' STAT'), { ok: false, reason: 'badKeyword' });
  });
});

describe('parseNumber', () => {
  it('takes decimal digits only', () => {
    assert.equal(parseNumber('1'), 1);
    assert.equal(parseNumber('007'), 7);
    for (const bad of ['', '-1', '+1', '1.5', '1e3', 'x', '0x10', '9999999999', undefined]) assert.equal(parseNumber(bad), null, String(bad));
  });
});
