/**
 * IMAP on the wire: pipelining, literals split across TCP packets, LITERAL+,
 * limits refused before data is read, and every kind of bad input getting the
 * RFC's answer while the session goes on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { RawImap } from '../../src/imap/testing/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const msg = (n: number) => `From: a@example.com\r\nTo: u@example.com\r\nSubject: message ${n}\r\nMessage-ID: <m${n}@example.com>\r\n\r\nbody ${n}\r\n`;

describe('IMAP protocol edge cases', () => {
  let srv: TestServer;
  let port: number;
  const clients: RawImap[] = [];

  const login = async (): Promise<RawImap> => {
    const c = await RawImap.connect(port);
    clients.push(c);
    const r = await c.cmd('L', 'LOGIN u@example.com pw');
    assert.match(r.at(-1)!, /^L OK/);
    return c;
  };

  before(async () => {
    srv = await startTestServer({ imap: { maxLiteral: 4096 } }, { services: ['imap'] });
    port = srv.port('imap');
    await srv.addUser('u@example.com', 'pw', { quota: 20_000 });
    await srv.addUser('empty@example.com', 'pw');
    for (let i = 1; i <= 3; i++) await srv.deliver('u@example.com', msg(i));
  });

  after(async () => {
    for (const c of clients) c.close();
    await srv?.stop();
  });

  it('answers pipelined commands in order', async () => {
    const c = await RawImap.connect(port);
    clients.push(c);
    c.write('a1 NOOP\r\na2 CAPABILITY\r\na3 LOGIN u@example.com pw\r\na4 SELECT INBOX\r\na5 FETCH 1:* (UID)\r\n');
    const lines = await c.until('a5');
    const tagged = lines.filter((l) => /^a\d /.test(l)).map((l) => l.split(' ').slice(0, 2).join(' '));
    assert.deepEqual(tagged, ['a1 OK', 'a2 OK', 'a3 OK', 'a4 OK', 'a5 OK']);
    assert.equal(lines.filter((l) => / FETCH \(UID \d+\)$/.test(l)).length, 3);
  });

  it('reads literals split across packets, synchronizing and LITERAL+', async () => {
    const c = await RawImap.connect(port);
    clients.push(c);
    c.write('b1 LOGIN {13}\r\n');
    assert.match(await c.line(), /^\+ /);
    for (const ch of 'u@example.com') {
      c.write(ch);
      await sleep(2);
    }
    c.write(' {2+}\r\np');
    await sleep(20);
    c.write('w\r\n');
    assert.match((await c.until('b1')).at(-1)!, /^b1 OK/);
    // A LITERAL+ APPEND, the message trickling in.
    const m = msg(99);
    c.write(`b2 APPEND Drafts (\\Draft) {${m.length}+}\r\n`);
    for (let i = 0; i < m.length; i += 7) {
      c.write(m.slice(i, i + 7));
      await sleep(1);
    }
    c.write('\r\n');
    const r = await c.until('b2');
    assert.match(r.at(-1)!, /^b2 OK \[APPENDUID \d+ \d+\]/);
    const f = await c.cmd('b3', 'EXAMINE Drafts');
    assert.ok(f.includes('* 1 EXISTS'), f.join('\n'));
    const body = await c.cmd('b4', 'FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]');
    assert.ok(body.some((l) => l.includes('Subject: message 99')), body.join('\n'));
  });

  it('refuses an oversized literal before reading it, and the session goes on', async () => {
    const c = await login();
    c.write('c1 APPEND INBOX {999999}\r\n');
    const r = await c.line();
    assert.match(r, /^c1 NO \[TOOBIG\]/);
    // The client never got "+", so it sends nothing more for that command.
    assert.match((await c.cmd('c2', 'NOOP')).at(-1)!, /^c2 OK/);
    // Non-synchronizing: BAD, its bytes are discarded, then the next command works.
    const big = 'x'.repeat(5000);
    c.write(`c3 APPEND INBOX {5000+}\r\n${big}\r\nc4 NOOP\r\n`);
    const lines = await c.until('c4');
    assert.match(lines[0]!, /^c3 NO \[TOOBIG\]/);
    // Any other literal over the bound is a BAD.
    const d = await c.cmd('c5', 'SEARCH SUBJECT {999999}');
    assert.match(d.at(-1)!, /^c5 BAD \[TOOBIG\]/);
    assert.match(lines.at(-1)!, /^c4 OK/);
  });

  it('answers a too-long line with BAD and continues', async () => {
    const c = await login();
    c.write(`d1 SEARCH SUBJECT ${'y'.repeat(70_000)}\r\nd2 NOOP\r\n`);
    const lines = await c.until('d2');
    assert.match(lines[0]!, /^d1 BAD/);
    assert.match(lines.at(-1)!, /^d2 OK/);
  });

  it('gives every bad command the RFC answer and stays up', async () => {
    const c = await RawImap.connect(port);
    clients.push(c);
    const expect = async (tag: string, text: string, re: RegExp) => {
      const r = await c.cmd(tag, text);
      assert.match(r.at(-1)!, re, `${text} → ${r.join(' | ')}`);
    };
    await expect('e1', 'FROBNICATE', /^e1 BAD/);
    await expect('e2', 'SELECT INBOX', /^e2 BAD/); // wrong state
    await expect('e3', 'LOGIN', /^e3 BAD/); // missing arguments
    await expect('e4', 'LOGIN "unterminated', /^e4 BAD/);
    await expect('e5', 'LOGIN u@example.com pw extra', /^e5 BAD/);
    c.write('+BAD\r\n');
    assert.match(await c.line(), /^\* BAD/);
    await expect('e6', 'LOGIN u@example.com pw', /^e6 OK/);
    await expect('e7', 'LOGIN u@example.com pw', /^e7 BAD/); // already logged in
    await expect('e8', 'FETCH 1 FLAGS', /^e8 BAD/); // not selected
    await expect('e9', 'SELECT INBOX', /^e9 OK/);
    await expect('e10', 'FETCH 0 FLAGS', /^e10 BAD/);
    await expect('e11', 'FETCH 1:99 FLAGS', /^e11 BAD/);
    await expect('e12', 'FETCH 1 (FLAGS', /^e12 BAD/);
    await expect('e13', 'FETCH 1 BODY[9.9]', /^e13 OK/);
    await expect('e14', 'STORE 1 +FLAGS (\\Bogus)', /^e14 BAD/);
    await expect('e15', 'SEARCH SINCE 2024-01-01', /^e15 BAD/);
    await expect('e16', 'CREATE foo%bar', /^e16 BAD/); // not an astring
    await expect('e16b', 'CREATE "foo%bar"', /^e16b NO/);
    await expect('e17', 'CREATE &ZeVnLIqe', /^e17 NO/);
    await expect('e18', 'DELETE INBOX', /^e18 NO/);
    await expect('e19', 'CREATE Work', /^e19 OK/);
    await expect('e20', 'RENAME Work Sent', /^e20 NO \[ALREADYEXISTS\]/);
    await expect('e21', 'SELECT "No such"', /^e21 NO \[NONEXISTENT\]/);
    await expect('e22', 'UID FETCH 1:* (FLAGS)', /^e22 BAD/); // the failed SELECT left the selected state
    await expect('e23', 'EXAMINE INBOX', /^e23 OK \[READ-ONLY\]/);
    await expect('e24', 'EXPUNGE', /^e24 NO/);
    await expect('e25', 'UID SEARCH UID 1:*', /^e25 OK/);
    await expect('e26', 'ENABLE QRESYNC', /^e26 OK/);
    await expect('e27', 'AUTHENTICATE PLAIN', /^e27 BAD/);
    await expect('e28', 'NOOP', /^e28 OK/);
  });

  it('answers BAD for "*" and out-of-range numbers in an empty mailbox', async () => {
    const c = await RawImap.connect(port);
    clients.push(c);
    await c.cmd('f0', 'LOGIN empty@example.com pw');
    assert.ok((await c.cmd('f1', 'SELECT INBOX')).includes('* 0 EXISTS'));
    assert.match((await c.cmd('f2', 'FETCH * FLAGS')).at(-1)!, /^f2 BAD/);
    assert.match((await c.cmd('f3', 'FETCH 1:* FLAGS')).at(-1)!, /^f3 BAD/);
    assert.match((await c.cmd('f4', 'UID FETCH 1:* FLAGS')).at(-1)!, /^f4 OK/);
    assert.match((await c.cmd('f5', 'SEARCH ALL')).at(-2)!, /^\* SEARCH$/);
    assert.match((await c.cmd('f6', 'STORE 1 +FLAGS \\Seen')).at(-1)!, /^f6 BAD/);
  });

  it('enforces the quota on APPEND with NO [OVERQUOTA]', async () => {
    const c = await login();
    const big = `Subject: big\r\n\r\n${'z'.repeat(3500)}\r\n`;
    let over = '';
    for (let i = 0; i < 10 && !over; i++) {
      const r = await c.cmd(`g${i}`, `APPEND INBOX {${big.length}+}\r\n${big}`);
      if (/NO \[OVERQUOTA\]/.test(r.at(-1)!)) over = r.at(-1)!;
      else assert.match(r.at(-1)!, /OK/);
    }
    assert.match(over, /NO \[OVERQUOTA\]/);
  });

  it('tells an HTTP client to go away', async () => {
    const c = await RawImap.connect(port);
    clients.push(c);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(await c.line(), /^\* BYE/);
    assert.ok(await c.closedWithin(2000));
  });

  it('closes after too many bad commands', async () => {
    const c = await RawImap.connect(port);
    clients.push(c);
    for (let i = 0; i < 25; i++) c.write(`z${i} BOGUS\r\n`);
    await c.waitFor(/^\* BYE/);
    assert.ok(await c.closedWithin(2000));
  });

  it('speaks COMPRESS=DEFLATE', async () => {
    const c = await login();
    const r = await c.cmd('h1', 'COMPRESS DEFLATE');
    assert.match(r.at(-1)!, /^h1 OK/);
    // From here on the stream is raw deflate both ways.
    const inflate = zlib.createInflateRaw();
    const deflate = zlib.createDeflateRaw();
    c.socket.removeAllListeners('data');
    let text = '';
    inflate.on('data', (d: Buffer) => (text += d.toString()));
    c.socket.on('data', (d: Buffer) => inflate.write(d));
    deflate.on('data', (d: Buffer) => c.socket.write(d));
    deflate.write('h2 SELECT INBOX\r\nh3 FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n');
    deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    const deadline = Date.now() + 5000;
    while (!/h3 OK/.test(text) && Date.now() < deadline) await sleep(20);
    assert.match(text, /h2 OK \[READ-WRITE\]/);
    assert.match(text, /Subject: message 1/);
    assert.match(text, /h3 OK/);
  });

  it('speaks UTF-8 mailbox names after ENABLE UTF8=ACCEPT and modified UTF-7 before', async () => {
    const plain = await login();
    assert.match((await plain.cmd('u1', 'CREATE "R&AOk-sum&AOk-s"')).at(-1)!, /^u1 OK/);
    const l1 = await plain.cmd('u2', 'LIST "" "R*"');
    assert.ok(l1.includes('* LIST (\\HasNoChildren) "/" "R&AOk-sum&AOk-s"'), l1.join('\n'));
    const utf = await login();
    assert.match((await utf.cmd('u3', 'ENABLE UTF8=ACCEPT')).join('\n'), /\* ENABLED UTF8=ACCEPT/);
    const l2 = await utf.cmd('u4', 'LIST "" "R*"');
    assert.ok(l2.includes('* LIST (\\HasNoChildren) "/" "Résumés"'), l2.join('\n'));
    assert.match((await utf.cmd('u5', 'SELECT "Résumés"')).at(-1)!, /^u5 OK/);
    const m = 'Subject: =?utf-8?q?=C3=A9t=C3=A9?=\r\n\r\nUn été.\r\n';
    const bytes = Buffer.byteLength(m);
    const r = await utf.cmd('u6', `APPEND "Résumés" UTF8 (~{${bytes}+}\r\n${m})`);
    assert.match(r.at(-1)!, /^u6 OK \[APPENDUID/);
    const found = await utf.cmd('u7', 'SEARCH CHARSET UTF-8 SUBJECT "été"');
    assert.ok(found.some((l) => /^\* SEARCH \d+$/.test(l)), found.join('\n'));
  });
});
