import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DotStuffer, DotStuffTransform } from './dot-stuff.js';

function stuff(input: Buffer, size: number, bodyLines?: number): Buffer {
  const s = new DotStuffer(bodyLines === undefined ? {} : { bodyLines });
  const out: Buffer[] = [];
  for (let i = 0; i < input.length && !s.done; i += size) out.push(s.push(input.subarray(i, i + size)));
  out.push(s.end());
  return Buffer.concat(out);
}

/** What a client does with a multi-line reply: stop at ".", strip one leading dot per line. */
function unstuff(wire: Buffer): { body: string; terminated: boolean } {
  const lines = wire.toString('latin1').split('\r\n');
  const out: string[] = [];
  for (const line of lines) {
    if (line === '.') return { body: out.length ? `${out.join('\r\n')}\r\n` : '', terminated: true };
    out.push(line.startsWith('.') ? line.slice(1) : line);
  }
  return { body: out.join('\r\n'), terminated: false };
}

function everyChunking(input: Buffer, bodyLines?: number): Buffer {
  const whole = stuff(input, input.length || 1, bodyLines);
  for (let size = 1; size <= 512; size++) assert.deepEqual(stuff(input, size, bodyLines), whole, `chunks of ${size}`);
  return whole;
}

const MSG = Buffer.from('Subject: x\r\nFrom: a@b\r\n\r\n.starts with a dot\r\nmiddle . dot\r\n..two dots\r\n.\r\nend\r\n');

describe('DotStuffer', () => {
  it('doubles leading dots at every chunk size, and ends with ".\\r\\n"', () => {
    const wire = everyChunking(MSG);
    assert.equal(
      wire.toString(),
      'Subject: x\r\nFrom: a@b\r\n\r\n..starts with a dot\r\nmiddle . dot\r\n...two dots\r\n..\r\nend\r\n.\r\n',
    );
    assert.deepEqual(unstuff(wire), { body: MSG.toString(), terminated: true });
  });

  it('stuffs a dot at the very start of the message', () => {
    assert.equal(everyChunking(Buffer.from('.\r\n')).toString(), '..\r\n.\r\n');
  });

  it('adds the missing CRLF before the terminator, and sends only "." for an empty message', () => {
    assert.equal(everyChunking(Buffer.from('no newline')).toString(), 'no newline\r\n.\r\n');
    assert.equal(stuff(Buffer.alloc(0), 1).toString(), '.\r\n');
  });

  it('TOP: header, blank line and n body lines, at every chunk size', () => {
    assert.equal(everyChunking(MSG, 0).toString(), 'Subject: x\r\nFrom: a@b\r\n\r\n.\r\n');
    assert.equal(everyChunking(MSG, 2).toString(), 'Subject: x\r\nFrom: a@b\r\n\r\n..starts with a dot\r\nmiddle . dot\r\n.\r\n');
    assert.equal(everyChunking(MSG, 1000).toString(), stuff(MSG, MSG.length).toString());
  });

  it('TOP on a message with no body sends all of it', () => {
    const header = Buffer.from('Subject: only a header\r\n');
    assert.equal(everyChunking(header, 0).toString(), 'Subject: only a header\r\n.\r\n');
  });

  it('TOP: a line holding only CR split from its LF still ends the header', () => {
    const m = Buffer.from('A: b\r\n\r\nbody1\r\nbody2\r\n');
    const s = new DotStuffer({ bodyLines: 1 });
    const parts = [m.subarray(0, 7), m.subarray(7, 8), m.subarray(8)].map((c) => s.push(c));
    assert.equal(Buffer.concat([...parts, s.end()]).toString(), 'A: b\r\n\r\nbody1\r\n.\r\n');
    assert.ok(s.done);
  });

  it('round-trips any CRLF text through a client unstuffer (property)', () => {
    const line = fc.stringMatching(/^[.a-z ]{0,12}$/);
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), fc.integer({ min: 1, max: 40 }), (lines, size) => {
        const msg = Buffer.from(lines.map((l) => `${l}\r\n`).join(''));
        const wire = stuff(msg, size);
        assert.deepEqual(unstuff(wire), { body: msg.toString(), terminated: true });
        // The client stopped at the terminator and got the whole body: so it was at the very end.
        assert.ok(wire.subarray(-3).equals(Buffer.from('.\r\n')));
      }),
    );
  });
});

describe('DotStuffTransform', () => {
  it('streams the same bytes as the pure stuffer', async () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < MSG.length; i += 3) chunks.push(MSG.subarray(i, i + 3));
    const out: Buffer[] = [];
    for await (const c of Readable.from(chunks).pipe(new DotStuffTransform())) out.push(c as Buffer);
    assert.deepEqual(Buffer.concat(out), stuff(MSG, MSG.length));
  });
});
