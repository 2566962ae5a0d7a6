import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'selfsigned';
import { Pop3Client } from './pop3-client.js';
import { isFetchError } from './errors.js';
import { startResponder, type Responder, type ResponderMessage } from './pop3-responder.fixture.js';

function message(i: number, extra = ''): ResponderMessage {
  const body = `From: a@example.org\r\nTo: b@example.org\r\nSubject: message ${i}\r\n\r\nline one\r\n.starts with a dot\r\n..two dots\r\n.\r\nend ${i}${extra}\r\n`;
  return { uid: `uid-${i}`, body: Buffer.from(body) };
}

let pems: { key: string; cert: string };
const servers: Responder[] = [];

async function responder(...args: Parameters<typeof startResponder>): Promise<Responder> {
  const r = await startResponder(...args);
  servers.push(r);
  return r;
}

before(async () => {
  const g = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  });
  pems = { key: g.private, cert: g.cert };
});

after(async () => {
  for (const s of servers) await s.close();
});

describe('Pop3Client', () => {
  it('lists, retrieves (unstuffed, byte-exact), deletes on QUIT', async () => {
    const msgs = [message(1), message(2), message(3)];
    const r = await responder(msgs.slice(), { writeChunk: 7 });
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: r.port, tls: 'none' });
    assert.equal(c.has('UIDL'), true);
    assert.equal(await c.login('alice', 'secret', { apop: 'never' }), 'user');
    assert.deepEqual(await c.stat(), { count: 3, size: msgs.reduce((a, m) => a + m.body.length, 0) });
    const listing = await c.messages();
    assert.deepEqual(listing.map((m) => m.uid), ['uid-1', 'uid-2', 'uid-3']);
    assert.deepEqual(listing.map((m) => m.size), msgs.map((m) => m.body.length));
    for (const m of listing) {
      const got = await c.retrBuffer(m.n);
      assert.deepEqual(got, msgs[m.n - 1]!.body);
    }
    await c.dele(2);
    await c.quit();
    assert.deepEqual(r.messages.map((m) => m.uid), ['uid-1', 'uid-3']);
  });

  it('streams a large RETR with backpressure and keeps the session usable after it', async () => {
    const big = Buffer.from('Subject: big\r\n\r\n' + Array.from({ length: 40000 }, (_, i) => (i % 7 === 0 ? '.' : '') + `line ${i} ${'x'.repeat(40)}`).join('\r\n') + '\r\n');
    const r = await responder([{ uid: 'big', body: big }, message(2)]);
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: r.port, tls: 'none' });
    await c.login('alice', 'secret');
    const stream = c.retr(1);
    const parts: Buffer[] = [];
    for await (const chunk of stream) {
      parts.push(chunk as Buffer);
      // A slow consumer: the client must pause the socket rather than buffer everything.
      if (parts.length % 20 === 0) await new Promise((res) => setTimeout(res, 1));
    }
    assert.deepEqual(Buffer.concat(parts), big);
    assert.deepEqual(await c.retrBuffer(2), message(2).body);
    await c.quit();
  });

  it('does APOP when offered on a plain connection, and never sends the password', async () => {
    const r = await responder([message(1)], { apop: '<1896.697170952@test>' });
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: r.port, tls: 'none' });
    assert.equal(await c.login('alice', 'secret'), 'apop');
    await c.quit();
    assert.ok(r.log.some((l) => l.startsWith('APOP alice ')));
    assert.ok(!r.log.some((l) => l.includes('secret')));
  });

  it('falls back to AUTH PLAIN when USER is refused', async () => {
    const r = await responder([message(1)], { noUser: true });
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: r.port, tls: 'none' });
    assert.equal(await c.login('alice', 'secret'), 'sasl-plain');
    await c.quit();
  });

  it('reports a wrong password as an auth error', async () => {
    const r = await responder([message(1)], { apop: '<1.2@test>' });
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: r.port, tls: 'none' });
    await assert.rejects(c.login('alice', 'wrong'), (e) => isFetchError(e, 'auth') && /Authentication failed/.test(e.message));
    c.destroy();
  });

  it('upgrades with STLS, verifying the certificate', async () => {
    const r = await responder([message(1)], { tls: pems });
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: r.port, tls: 'starttls', tlsOptions: { ca: pems.cert } });
    assert.equal(c.secure, true);
    assert.equal(await c.login('alice', 'secret'), 'user');
    assert.deepEqual(await c.retrBuffer(1), message(1).body);
    await c.quit();
    // The password crossed only after STLS.
    const stls = r.log.indexOf('STLS');
    const pass = r.log.findIndex((l) => l.startsWith('PASS'));
    assert.ok(stls >= 0 && pass > stls);
  });

  it('refuses an untrusted certificate', async () => {
    const r = await responder([message(1)], { tls: pems });
    await assert.rejects(Pop3Client.connect({ host: '127.0.0.1', port: r.port, tls: 'starttls' }), (e) => isFetchError(e, 'tls'));
  });

  it('never downgrades when STLS is not offered', async () => {
    const r = await responder([message(1)]);
    await assert.rejects(Pop3Client.connect({ host: '127.0.0.1', port: r.port, tls: 'starttls' }), (e) => isFetchError(e, 'tls') && /STLS/.test(e.message));
    assert.ok(!r.log.some((l) => l.startsWith('USER') || l.startsWith('PASS')));
  });

  it('refuses bytes sent before the TLS handshake (STARTTLS injection)', async () => {
    const r = await responder([message(1)], { tls: pems, injectAfterStls: '+OK injected' });
    await assert.rejects(Pop3Client.connect({ host: '127.0.0.1', port: r.port, tls: 'starttls', tlsOptions: { ca: pems.cert } }), (e) => isFetchError(e, 'tls'));
  });

  it('speaks implicit TLS', async () => {
    const r = await responder([message(1)], { tls: pems, implicitTls: true });
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: r.port, tls: 'implicit', tlsOptions: { ca: pems.cert } });
    assert.equal(c.secure, true);
    await c.login('alice', 'secret');
    assert.deepEqual(await c.retrBuffer(1), message(1).body);
    await c.quit();
  });

  it('works with a server without CAPA', async () => {
    const r = await responder([message(1)], { capa: null });
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: r.port, tls: 'none' });
    assert.equal(c.capabilities, null);
    await c.login('alice', 'secret');
    assert.equal((await c.messages()).length, 1);
    await c.quit();
  });

  it('says clearly when the server has no UIDL', async () => {
    const r = await responder([message(1)], { noUidl: true });
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: r.port, tls: 'none' });
    await c.login('alice', 'secret');
    await assert.rejects(c.uidl(), (e) => isFetchError(e, 'unsupported') && /UIDL/.test(e.message));
    c.destroy();
  });

  it('fails the RETR stream when the server drops the line mid-message, and deletes nothing', async () => {
    const big = { uid: 'big', body: Buffer.from('Subject: x\r\n\r\n' + 'y'.repeat(200_000) + '\r\n') };
    const r = await responder([message(1), big], { dropDuringRetr: 2 });
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: r.port, tls: 'none' });
    await c.login('alice', 'secret');
    await c.dele(1);
    await assert.rejects(c.retrBuffer(2), (e) => isFetchError(e, 'closed'));
    await assert.rejects(c.noop(), (e) => isFetchError(e, 'closed'));
    assert.equal(r.messages.length, 2);
  });

  it('times out on a stalled server', async () => {
    const r = await responder([message(1)], { stallOn: 'UIDL' });
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: r.port, tls: 'none', timeoutMs: 300 });
    await c.login('alice', 'secret');
    await assert.rejects(c.uidl(), (e) => isFetchError(e, 'timeout'));
  });

  it('reports a refused connection as a connect error', async () => {
    const r = await responder([]);
    const port = r.port;
    await r.close();
    await assert.rejects(Pop3Client.connect({ host: '127.0.0.1', port, tls: 'none' }), (e) => isFetchError(e, 'connect') && /ECONNREFUSED/.test(e.message));
  });

  it('refuses RETR of a message that is not there without breaking the session', async () => {
    const r = await responder([message(1)]);
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: r.port, tls: 'none' });
    await c.login('alice', 'secret');
    await assert.rejects(c.retrBuffer(9), (e) => isFetchError(e, 'protocol') && /RETR 9/.test(e.message));
    assert.deepEqual(await c.retrBuffer(1), message(1).body);
    await c.quit();
  });
});
