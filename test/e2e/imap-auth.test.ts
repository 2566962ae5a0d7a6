/**
 * Logging in to IMAP: AUTHENTICATE SCRAM-SHA-256 (challenges, server proof),
 * PLAIN with and without SASL-IR, cancelling, bad base64; and a server that
 * refuses plaintext without TLS (LOGINDISABLED, PRIVACYREQUIRED) until STARTTLS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { ScramSha256Client } from '../../src/auth/scram-client.js';
import { RawImap } from '../../src/imap/testing/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString();

describe('IMAP authentication', () => {
  let srv: TestServer;
  let strict: TestServer;
  const clients: RawImap[] = [];

  before(async () => {
    srv = await startTestServer({ auth: { mechanisms: ['PLAIN', 'SCRAM-SHA-256'] } }, { services: ['imap'] });
    await srv.addUser('s@example.com', 'sesame');
    strict = await startTestServer({ auth: { plaintext: 'never' } }, { services: ['imap'] });
    await strict.addUser('t@example.com', 'sesame');
  });

  after(async () => {
    for (const c of clients) c.close();
    await srv?.stop();
    await strict?.stop();
  });

  const connect = async (server: TestServer) => {
    const c = await RawImap.connect(server.port('imap'));
    clients.push(c);
    return c;
  };

  it('AUTHENTICATE SCRAM-SHA-256 proves both sides', async () => {
    const c = await connect(srv);
    const caps = (await c.cmd('a0', 'CAPABILITY')).join(' ');
    assert.match(caps, /AUTH=SCRAM-SHA-256/);
    const scram = new ScramSha256Client('s@example.com', 'sesame');
    c.write(`a1 AUTHENTICATE SCRAM-SHA-256 ${b64(scram.clientFirst())}\r\n`);
    const first = await c.line();
    assert.match(first, /^\+ /);
    c.write(b64(scram.clientFinal(unb64(first.slice(2)))) + '\r\n');
    const final = await c.line();
    assert.match(final, /^\+ /);
    assert.ok(scram.verifyServerFinal(unb64(final.slice(2))), 'server proof');
    c.write('\r\n');
    assert.match((await c.until('a1')).at(-1)!, /^a1 OK \[CAPABILITY /);
    assert.match((await c.cmd('a2', 'SELECT INBOX')).at(-1)!, /^a2 OK/);
  });

  it('AUTHENTICATE SCRAM-SHA-256 with a wrong password fails', async () => {
    const c = await connect(srv);
    const scram = new ScramSha256Client('s@example.com', 'wrong');
    c.write('b1 AUTHENTICATE SCRAM-SHA-256\r\n');
    assert.equal(await c.line(), '+ ');
    c.write(b64(scram.clientFirst()) + '\r\n');
    const first = await c.line();
    c.write(b64(scram.clientFinal(unb64(first.slice(2)))) + '\r\n');
    assert.match((await c.until('b1')).at(-1)!, /^b1 NO \[AUTHENTICATIONFAILED\]/);
  });

  it('AUTHENTICATE PLAIN without an initial response, cancelled, and with bad base64', async () => {
    const c = await connect(srv);
    c.write('c1 AUTHENTICATE PLAIN\r\n');
    assert.equal(await c.line(), '+ ');
    c.write('*\r\n');
    assert.match(await c.line(), /^c1 BAD/);
    c.write('c2 AUTHENTICATE PLAIN\r\n');
    assert.equal(await c.line(), '+ ');
    c.write('%%%\r\n');
    assert.match(await c.line(), /^c2 BAD/);
    assert.match((await c.cmd('c3', 'AUTHENTICATE PLAIN %%%')).at(-1)!, /^c3 BAD/);
    assert.match((await c.cmd('c4', 'AUTHENTICATE X-UNKNOWN')).at(-1)!, /^c4 NO/);
    c.write('c5 AUTHENTICATE PLAIN\r\n');
    assert.equal(await c.line(), '+ ');
    c.write(b64('\0s@example.com\0sesame') + '\r\n');
    assert.match((await c.until('c5')).at(-1)!, /^c5 OK/);
  });

  it('refuses plaintext without TLS, then allows it after STARTTLS', async () => {
    const c = await connect(strict);
    const caps = (await c.cmd('d0', 'CAPABILITY')).join(' ');
    assert.match(caps, /LOGINDISABLED/);
    assert.match(caps, /STARTTLS/);
    assert.doesNotMatch(caps, /AUTH=PLAIN/);
    assert.match((await c.cmd('d1', 'LOGIN t@example.com sesame')).at(-1)!, /^d1 NO \[PRIVACYREQUIRED\]/);
    assert.match((await c.cmd('d2', `AUTHENTICATE PLAIN ${b64('\0t@example.com\0sesame')}`)).at(-1)!, /^d2 NO \[PRIVACYREQUIRED\]/);
    // STARTTLS, with a command pipelined behind it that must be ignored (RFC 3501 11.1).
    c.write('d3 STARTTLS\r\nd4 LOGIN t@example.com sesame\r\n');
    assert.match(await c.line(), /^d3 OK/);
    c.socket.removeAllListeners('data');
    const secure = tls.connect({ socket: c.socket, ca: strict.tls.cert, checkServerIdentity: () => undefined });
    await new Promise<void>((r) => secure.once('secureConnect', () => r()));
    let text = '';
    secure.on('data', (d: Buffer) => (text += d.toString()));
    secure.write('d5 CAPABILITY\r\nd6 LOGIN t@example.com sesame\r\n');
    const deadline = Date.now() + 5000;
    while (!/d6 (OK|NO|BAD)/.test(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.doesNotMatch(text, /d4 /, 'the pipelined command was dropped');
    assert.doesNotMatch(text.split('d5 OK')[0]!, /LOGINDISABLED/);
    assert.match(text, /AUTH=PLAIN/);
    assert.match(text, /d6 OK/);
    secure.destroy();
  });
});
