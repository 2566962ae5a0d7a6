import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CommandReader, type ReaderEvent, type ReaderOptions } from './reader.js';

/** What the session would see, flattened to strings for comparison. */
function replay(input: string | Buffer, chunk: number, opts: ReaderOptions = {}): string[] {
  const reader = new CommandReader(opts);
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const out: string[] = [];
  let stream: Buffer[] = [];
  const drain = () => {
    let ev: ReaderEvent | null;
    while ((ev = reader.next())) {
      switch (ev.kind) {
        case 'command':
          out.push(`cmd ${ev.frame.tag} ${ev.frame.bytes.toString('latin1')}${ev.frame.streamedAt !== undefined ? ` @${ev.frame.streamedAt}` : ''}`);
          break;
        case 'continue':
          out.push('+');
          break;
        case 'bad':
          out.push(`bad ${ev.tag} ${ev.code ?? ''}${ev.fatal ? ' fatal' : ''}`);
          break;
        case 'streamStart':
          out.push(`stream ${ev.tag} ${ev.literal.size}`);
          stream = [];
          break;
        case 'streamData':
          stream.push(ev.data);
          break;
        case 'streamEnd':
          out.push(`data ${Buffer.concat(stream).toString('latin1')}`);
          break;
      }
    }
  };
  for (let i = 0; i < bytes.length; i += chunk) {
    reader.push(bytes.subarray(i, i + chunk));
    drain();
  }
  return out;
}

function everyChunking(input: string, opts: ReaderOptions = {}): string[] {
  const whole = replay(input, input.length + 1, opts);
  for (let n = 1; n <= Math.min(512, input.length); n++) {
    assert.deepEqual(replay(input, n, opts), whole, `chunk size ${n}`);
  }
  return whole;
}

describe('CommandReader', () => {
  it('reads pipelined commands in every chunking', () => {
    const got = everyChunking('a1 NOOP\r\na2 CAPABILITY\r\na3 LOGIN joe "pass word"\r\n');
    assert.deepEqual(got, ['cmd a1 a1 NOOP', 'cmd a2 a2 CAPABILITY', 'cmd a3 a3 LOGIN joe "pass word"']);
  });

  it('accepts bare LF line ends and ignores empty lines', () => {
    assert.deepEqual(everyChunking('a1 NOOP\n\r\n\na2 NOOP\r\n'), ['cmd a1 a1 NOOP', 'cmd a2 a2 NOOP']);
  });

  it('asks for synchronizing literals and keeps their bytes inline', () => {
    const got = everyChunking('a LOGIN {3}\r\njoe {4}\r\np\r\nw\r\nb NOOP\r\n');
    assert.deepEqual(got, ['+', '+', 'cmd a a LOGIN {3}\r\njoe {4}\r\np\r\nw', 'cmd b b NOOP']);
  });

  it('does not ask for LITERAL+ literals', () => {
    const got = everyChunking('a LOGIN {3+}\r\njoe {0+}\r\n\r\n');
    assert.deepEqual(got, ['cmd a a LOGIN {3+}\r\njoe {0+}\r\n']);
  });

  it('reads literal8', () => {
    const got = everyChunking('a APPEND x ~{3+}\r\n\x00\x01\x02\r\n');
    assert.deepEqual(got, ['cmd a a APPEND x ~{3+}\r\n\x00\x01\x02']);
  });

  it('refuses an oversized synchronizing literal before reading it, and goes on', () => {
    const got = everyChunking('a LOGIN {999999}\r\nb NOOP\r\n', { limits: { maxInlineLiteral: 1000 } });
    assert.deepEqual(got, ['bad a TOOBIG', 'cmd b b NOOP']);
  });

  it('discards an oversized non-synchronizing literal and the rest of its command', () => {
    const body = 'x'.repeat(2000);
    const got = everyChunking(`a LOGIN {2000+}\r\n${body} pw\r\nb NOOP\r\n`, { limits: { maxInlineLiteral: 1000 } });
    assert.deepEqual(got, ['bad a TOOBIG', 'cmd b b NOOP']);
  });

  it('closes on an absurd non-synchronizing literal', () => {
    const got = replay('a LOGIN {99999999999+}\r\nzzz\r\n', 4, { limits: { maxStreamLiteral: 1000 } });
    assert.deepEqual(got, ['bad a TOOBIG fatal']);
  });

  it('answers BAD for a line that is too long and goes on', () => {
    const long = 'a1 SEARCH ' + 'X'.repeat(5000) + '\r\na2 NOOP\r\n';
    assert.deepEqual(everyChunking(long, { limits: { maxLine: 1000 } }), ['bad a1 TOOBIG', 'cmd a2 a2 NOOP']);
  });

  it('reports a missing tag with an untagged BAD', () => {
    assert.deepEqual(everyChunking('+ NOOP\r\n(x\r\nok NOOP\r\n'), ['bad * ', 'bad * ', 'cmd ok ok NOOP']);
  });

  it('streams the literal the policy names and keeps the rest of the command', () => {
    const opts: ReaderOptions = { streamLiteral: (prefix) => /APPEND/i.test(prefix.toString('latin1')) };
    const got = everyChunking('a APPEND INBOX (\\Seen) {12}\r\nHello\r\nWorld\r\nb NOOP\r\n', opts);
    assert.deepEqual(got, ['stream a 12', '+', 'data Hello\r\nWorld', 'cmd a a APPEND INBOX (\\Seen) {12}\r\n @29', 'cmd b b NOOP']);
  });

  it('streams an empty literal', () => {
    const opts: ReaderOptions = { streamLiteral: () => true };
    assert.deepEqual(everyChunking('a APPEND INBOX {0+}\r\n\r\n', opts), ['stream a 0', 'data ', 'cmd a a APPEND INBOX {0+}\r\n @21']);
  });

  it('drops everything on reset (STARTTLS)', () => {
    const reader = new CommandReader();
    reader.push(Buffer.from('a STARTTLS\r\nb INJECTED\r\n'));
    const first = reader.next();
    assert.equal(first?.kind, 'command');
    reader.reset();
    assert.equal(reader.next(), null);
    reader.push(Buffer.from('c NOOP\r\n'));
    const ev = reader.next();
    assert.ok(ev && ev.kind === 'command' && ev.frame.tag === 'c');
  });

  it('reads raw lines between commands', () => {
    const reader = new CommandReader({ limits: { maxLine: 10 } });
    reader.push(Buffer.from('DONE\r\n'));
    assert.deepEqual(reader.nextLine(), { kind: 'line', text: Buffer.from('DONE') });
    reader.push(Buffer.from('0123456789ABCDEF'));
    assert.equal(reader.nextLine(), null);
    reader.push(Buffer.from('\r\nx NOOP\r\n'));
    assert.deepEqual(reader.nextLine(), { kind: 'tooLong' });
    const ev = reader.next();
    assert.ok(ev && ev.kind === 'command' && ev.frame.tag === 'x');
  });

  it('never throws and always makes progress on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 1, max: 64 }), (data, chunk) => {
        const reader = new CommandReader({ limits: { maxLine: 100, maxInlineLiteral: 50, maxStreamLiteral: 80 } });
        const buf = Buffer.from(data);
        for (let i = 0; i < buf.length; i += chunk) {
          reader.push(buf.subarray(i, i + chunk));
          let guard = 0;
          while (reader.next()) assert.ok(++guard < 10_000);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same events for any chunking of random command streams', () => {
    const cmd = fc.oneof(
      fc.constant('a NOOP\r\n'),
      fc.constant('b LOGIN {2}\r\nxy pw\r\n'),
      fc.constant('c LOGIN {2+}\r\nxy pw\r\n'),
      fc.constant('d SELECT "in box"\r\n'),
      fc.constant(`e ${'Z'.repeat(150)}\r\n`),
      fc.constant('f LOGIN {9999}\r\n'),
    );
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 8 }), fc.integer({ min: 1, max: 40 }), (cmds, chunk) => {
        const input = cmds.join('');
        const opts = { limits: { maxLine: 100, maxInlineLiteral: 100 } };
        assert.deepEqual(replay(input, chunk, opts), replay(input, input.length + 1, opts));
      }),
      { numRuns: 200 },
    );
  });
});
