/**
 * POP3 bad input, byte by byte on a raw socket: every misuse gets -ERR with a
 * clear text, the connection closes after too many, pipelined replies come in
 * order, and nothing is deleted that QUIT did not confirm.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ScramSha256Client } from '../../src/auth/scram-client.js';
import { sampleMessage, WireClient } from '../../src/pop3/testing.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let port: number;
let n = 0;

async function newUser(count: number): Promise<{ login: string; password: string }> {
  const login = `wire${++n}@example.org`;
  const password = `wire-pass-${n}`;
  await srv.addUser(login, password);
  for (let i = 1; i <= count; i++) await srv.deliver(login, sampleMessage(i, login));
  return { login, password };
}

async function open(): Promise<WireClient> {
  const c = await WireClient.connect(port);
  assert.match(await c.line(), /^\+OK .*ready/);
  return c;
}

async function loggedIn(u: { login: string; password: string }): Promise<WireClient> {
  const c = await open();
  assert.match(await c.cmd(`USER ${u.login}`), /^\+OK/);
  assert.match(await c.cmd(`PASS ${u.password}`), /^\+OK/);
  return c;
}

async function messageCount(login: string): Promise<number> {
  const user = (await srv.store.getUserByLogin(login))!;
  const inbox = (await srv.store.getMailbox(user.id, 'INBOX'))!;
  return (await srv.store.listMessages(inbox.id)).length;
}

before(async () => {
  srv = await startTestServer(
    { auth: { maxFailuresPerIp: 1000, maxFailuresPerAccount: 1000, mechanisms: ['PLAIN', 'LOGIN', 'SCRAM-SHA-256'] } },
    { services: ['pop3'] },
  );
  port = srv.port('pop3');
});

after(async () => {
  await srv?.stop();
});

describe('pop3 bad input', () => {
  it('commands in the wrong state get -ERR that says so', async () => {
    const u = await newUser(2);
    const c = await open();
    for (const cmd of ['STAT', 'LIST', 'RETR 1', 'DELE 1', 'UIDL', 'TOP 1 1', 'RSET', 'NOOP']) {
      assert.match(await c.cmd(cmd), /^-ERR \w+ is not valid before login$/, cmd);
    }
    c.end();
    const t = await loggedIn(u);
    for (const cmd of ['USER x', 'PASS y', 'APOP a 0123456789abcdef0123456789abcdef', 'AUTH PLAIN', 'STLS']) {
      assert.match(await t.cmd(cmd), /^-ERR \w+ is not valid after login$/, cmd);
    }
    await t.cmd('QUIT');
  });

  it('unknown commands, bad and out-of-range numbers, deleted messages', async () => {
    const u = await newUser(2);
    const cases: Array<[string, RegExp]> = [
      ['FOO', /^-ERR Unknown command: FOO$/],
      ['RETR', /^-ERR Syntax: RETR msg$/],
      ['RETR x', /^-ERR Invalid message number: x$/],
      ['RETR -1', /^-ERR Invalid message number: -1$/],
      ['RETR 1.5', /^-ERR Invalid message number: 1\.5$/],
      ['RETR 0', /^-ERR No such message: 0$/],
      ['RETR 3', /^-ERR No such message: 3$/],
      ['RETR 99999999999', /^-ERR Invalid message number/],
      ['LIST 1 2', /^-ERR Syntax: LIST \[msg\]$/],
      ['TOP 1', /^-ERR Syntax: TOP msg lines$/],
      ['TOP 1 -5', /^-ERR Invalid number of lines$/],
      ['STAT extra', /^-ERR Syntax: STAT$/],
      ['', /^-ERR Empty command line$/],
      ['\u0001\u0002', /^-ERR Unknown command$/],
      ['DELE 1', /^\+OK message 1 deleted$/],
      ['DELE 1', /^-ERR Message 1 is deleted$/],
      ['RETR 1', /^-ERR Message 1 is deleted$/],
      ['TOP 1 0', /^-ERR Message 1 is deleted$/],
      ['LIST 1', /^-ERR Message 1 is deleted$/],
      ['UIDL 1', /^-ERR Message 1 is deleted$/],
    ];
    // A session takes fewer than 10 bad commands (the limit), so the cases run in several.
    let c = await loggedIn(u);
    let bad = 0;
    for (const [cmd, want] of cases) {
      if (bad === 7) {
        c.destroy();
        await c.closed;
        await new Promise((r) => setTimeout(r, 100));
        c = await loggedIn(u);
        bad = 0;
      }
      const reply = await c.cmd(cmd);
      assert.match(reply, want, JSON.stringify(cmd));
      if (reply.startsWith('-ERR')) bad++;
    }
    // Lower case works; after all that the session still answers.
    assert.match(await c.cmd('stat'), /^\+OK 1 \d+$/);
    c.destroy();
    await c.closed;
    // None of it deleted anything: DELE was never confirmed by QUIT.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await messageCount(u.login), 2);
  });

  it('too many bad commands close the connection', async () => {
    const c = await open();
    for (let i = 0; i < 9; i++) assert.match(await c.cmd(`BOGUS${i % 3}`), /^-ERR Unknown command/);
    assert.match(await c.cmd('BOGUS'), /^-ERR Unknown command/);
    assert.equal(await c.line(), '-ERR Too many bad commands, closing connection');
    await c.closed;
  });

  it('an overlong line gets -ERR and the session goes on', async () => {
    const u = await newUser(1);
    const c = await loggedIn(u);
    c.send(`NOOP ${'A'.repeat(100_000)}\r\n`);
    assert.equal(await c.line(), '-ERR Line too long');
    assert.match(await c.cmd('STAT'), /^\+OK 1 /);
    await c.cmd('QUIT');
  });

  it('pipelined commands, garbage among them, are answered in order', async () => {
    const u = await newUser(3);
    const c = await open();
    c.send(`CAPA\r\nUSER ${u.login}\r\nPASS ${u.password}\r\nSTAT\r\nJUNK\r\nLIST 2\r\nRETR 9\r\nUIDL 1\r\nDELE 3\r\nRETR 1\r\nNOOP\r\n`);
    assert.match(await c.line(), /^\+OK Capability/);
    const caps = await c.body();
    assert.ok(caps.includes('PIPELINING'));
    assert.match(await c.line(), /^\+OK/); // USER
    assert.match(await c.line(), /^\+OK .* has 3 messages/); // PASS
    assert.match(await c.line(), /^\+OK 3 \d+$/); // STAT
    assert.match(await c.line(), /^-ERR Unknown command: JUNK$/);
    assert.match(await c.line(), /^\+OK 2 \d+$/); // LIST 2
    assert.match(await c.line(), /^-ERR No such message: 9$/);
    assert.match(await c.line(), /^\+OK 1 [0-9a-f]{16}$/); // UIDL 1
    assert.match(await c.line(), /^\+OK message 3 deleted$/);
    assert.match(await c.line(), /^\+OK \d+ octets$/);
    assert.ok((await c.body()).includes('Subject: message 1'));
    assert.equal(await c.line(), '+OK'); // NOOP
    c.destroy();
  });

  it('HTTP on the POP3 port is answered with -ERR and closed', async () => {
    const c = await open();
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(await c.line(), '-ERR This is a POP3 server');
    await c.closed;
  });

  it('a client that vanishes in the middle of a large RETR: nothing deleted, lock freed, server fine', async () => {
    const u = await newUser(1);
    const big = sampleMessage(2, u.login, `${'y'.repeat(998)}\r\n`.repeat(20_000)); // about 20 MB
    await srv.deliver(u.login, big);
    const c = await loggedIn(u);
    assert.match(await c.cmd('DELE 1'), /^\+OK/);
    c.send('RETR 2\r\n');
    assert.match(await c.line(), /^\+OK \d+ octets$/);
    c.destroy();
    await c.closed;
    // The lock is released once the server notices: a new session logs in.
    let again: WireClient | null = null;
    for (let i = 0; i < 50 && !again; i++) {
      const t = await open();
      await t.cmd(`USER ${u.login}`);
      const r = await t.cmd(`PASS ${u.password}`);
      if (r.startsWith('+OK')) again = t;
      else {
        assert.match(r, /\[IN-USE\]/);
        t.destroy();
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    assert.ok(again, 'the maildrop became free');
    assert.match(await again.cmd('STAT'), /^\+OK 2 /);
    await again.cmd('QUIT');
    assert.equal(await messageCount(u.login), 2);
  });

  it('a client that reads slowly still gets every byte (backpressure)', async () => {
    const u = await newUser(0);
    const raw = sampleMessage(1, u.login, `${'.z'.repeat(400)}\r\n`.repeat(5000)); // about 4 MB, every line dot-stuffed
    await srv.deliver(u.login, raw);
    const c = await loggedIn(u);
    c.send('RETR 1\r\n');
    await new Promise((r) => setTimeout(r, 500)); // let the socket buffers fill up
    assert.match(await c.line(), /^\+OK \d+ octets$/);
    const wire = await c.rawBody();
    const text = wire.toString('latin1');
    const unstuffed = text.slice(0, -3).replace(/^\./gm, '');
    assert.equal(unstuffed, raw);
    await c.cmd('QUIT');
  });
});

describe('pop3 AUTH (RFC 5034) and logins', () => {
  it('AUTH with no argument lists the mechanisms', async () => {
    const c = await open();
    assert.match(await c.cmd('AUTH'), /^\+OK/);
    assert.deepEqual(await c.body(), ['PLAIN', 'LOGIN', 'SCRAM-SHA-256']);
    c.end();
  });

  it('AUTH PLAIN with an initial response, and through an empty challenge', async () => {
    const u = await newUser(1);
    const token = Buffer.from(`\0${u.login}\0${u.password}`).toString('base64');
    const a = await open();
    assert.match(await a.cmd(`AUTH PLAIN ${token}`), /^\+OK .* has 1 messages/);
    await a.cmd('QUIT');
    await a.closed;
    const b = await open();
    assert.equal(await b.cmd('AUTH PLAIN'), '+ ');
    assert.match(await b.cmd(token), /^\+OK/);
    await b.cmd('QUIT');
  });

  it('AUTH LOGIN challenge by challenge; "*" cancels; bad base64 fails', async () => {
    const u = await newUser(0);
    const c = await open();
    assert.match(await c.cmd('AUTH LOGIN'), /^\+ /);
    assert.equal(await c.cmd('*'), '-ERR Authentication cancelled');
    assert.match(await c.cmd('AUTH PLAIN'), /^\+ /);
    assert.equal(await c.cmd('not base64!'), '-ERR [AUTH] Invalid base64 data');
    assert.equal(await c.cmd('AUTH PLAIN %%%'), '-ERR [AUTH] Invalid base64 data');
    assert.equal(await c.cmd('AUTH DIGEST-MD5'), '-ERR Unsupported authentication mechanism');
    assert.match(await c.cmd('AUTH LOGIN'), /^\+ /);
    assert.match(await c.cmd(Buffer.from(u.login).toString('base64')), /^\+ /);
    assert.match(await c.cmd(Buffer.from(u.password).toString('base64')), /^\+OK/);
    await c.cmd('QUIT');
  });

  it('AUTH SCRAM-SHA-256: the server proves itself in a last challenge', async () => {
    const u = await newUser(2);
    const scram = new ScramSha256Client(u.login, u.password);
    const c = await open();
    const first = await c.cmd(`AUTH SCRAM-SHA-256 ${Buffer.from(scram.clientFirst()).toString('base64')}`);
    assert.match(first, /^\+ /);
    const serverFirst = Buffer.from(first.slice(2), 'base64').toString();
    const fin = await c.cmd(Buffer.from(scram.clientFinal(serverFirst)).toString('base64'));
    assert.match(fin, /^\+ /);
    assert.ok(scram.verifyServerFinal(Buffer.from(fin.slice(2), 'base64').toString()), 'server signature verifies');
    assert.match(await c.cmd(''), /^\+OK .* has 2 messages/);
    await c.cmd('QUIT');
  });

  it('a wrong password gets -ERR [AUTH]; the third failure closes the connection', async () => {
    const u = await newUser(0);
    const c = await open();
    for (let i = 0; i < 3; i++) {
      await c.cmd(`USER ${u.login}`);
      assert.equal(await c.cmd('PASS wrong'), '-ERR [AUTH] Authentication failed');
    }
    await c.closed;
  });

  it('PASS without USER, and a disabled account', async () => {
    const u = await newUser(0);
    const c = await open();
    assert.equal(await c.cmd('PASS x'), '-ERR Send USER first');
    const user = (await srv.store.getUserByLogin(u.login))!;
    await srv.store.updateUser(user.id, { enabled: false });
    await c.cmd(`USER ${u.login}`);
    assert.equal(await c.cmd(`PASS ${u.password}`), '-ERR [SYS/PERM] Account disabled; contact your administrator');
    c.end();
  });

  it('STLS: plaintext pipelined after STLS is discarded, not run inside TLS', async () => {
    const u = await newUser(1);
    const c = await open();
    c.send(`STLS\r\nUSER ${u.login}\r\nPASS ${u.password}\r\n`);
    assert.equal(await c.line(), '+OK Begin TLS negotiation');
    await c.startTls(srv.tls.cert);
    assert.match(await c.cmd('STAT'), /^-ERR STAT is not valid before login$/, 'the injected login did not happen');
    assert.equal(await c.cmd('STLS'), '-ERR TLS is already active');
    await c.cmd(`USER ${u.login}`);
    assert.match(await c.cmd(`PASS ${u.password}`), /^\+OK/);
    await c.cmd('QUIT');
  });
});
