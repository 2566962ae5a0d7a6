import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  deriveScramCredentials,
  formatScramCredentials,
  parseClientFinal,
  parseClientFirst,
  parseScramCredentials,
  scramSha256,
  serverFinalMessage,
  serverFirstMessage,
  serverNonce,
  verifyClientProof,
} from './scram.js';
import { isAuthError } from './errors.js';
import { ScramSha256Client } from './scram-client.js';

test('RFC 7677 section 3 test vector', async () => {
  const creds = await deriveScramCredentials('pencil', { iterations: 4096, salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64') });
  const clientFirst = 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO';
  const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
  const clientFinal = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';

  const first = parseClientFirst(clientFirst);
  assert.ok(first.ok);
  assert.deepEqual(first.value, { gs2Header: 'n,,', authzid: '', authcid: 'user', clientNonce: 'rOprNGfwEbeRWgbNEkqO', bare: 'n=user,r=rOprNGfwEbeRWgbNEkqO' });
  assert.equal(serverFirstMessage('rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0', creds.salt, creds.iterations), serverFirst);

  const final = parseClientFinal(clientFinal);
  assert.ok(final.ok);
  assert.equal(final.value.channelBinding.toString(), 'n,,');
  const authMessage = `${first.value.bare},${serverFirst},${final.value.withoutProof}`;
  assert.equal(verifyClientProof(creds, authMessage, final.value.proof), true);
  assert.equal(serverFinalMessage(creds, authMessage), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');

  // The client, written separately from the RFC, computes the same proof and checks the server's.
  const client = new ScramSha256Client('user', 'pencil', { nonce: 'rOprNGfwEbeRWgbNEkqO' });
  assert.equal(client.clientFirst(), clientFirst);
  assert.equal(client.clientFinal(serverFirst), clientFinal);
  assert.equal(client.verifyServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), true);
  assert.equal(client.verifyServerFinal('v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), false);

  const wrong = await deriveScramCredentials('pencils', { iterations: 4096, salt: creds.salt });
  assert.equal(verifyClientProof(wrong, authMessage, final.value.proof), false);
});

test('full exchange with the test client; a wrong password or a flipped bit fails', async () => {
  const stored = parseScramCredentials(await scramSha256('s3cret pässword'));
  for (const [password, tamper, expected] of [
    ['s3cret pässword', false, true],
    ['s3cret password', false, false],
    ['s3cret pässword', true, false],
  ] as const) {
    const client = new ScramSha256Client('alice@example.org', password);
    const first = parseClientFirst(client.clientFirst());
    assert.ok(first.ok);
    const serverFirst = serverFirstMessage(first.value.clientNonce + serverNonce(), stored.salt, stored.iterations);
    let clientFinal = client.clientFinal(serverFirst);
    if (tamper) clientFinal = flipProofBit(clientFinal);
    const final = parseClientFinal(clientFinal);
    assert.ok(final.ok);
    const authMessage = `${first.value.bare},${serverFirst},${final.value.withoutProof}`;
    assert.equal(verifyClientProof(stored, authMessage, final.value.proof), expected);
    if (expected) assert.equal(client.verifyServerFinal(serverFinalMessage(stored, authMessage)), true);
  }
});

test('stored credentials round-trip and malformed ones are refused', async () => {
  const c = await deriveScramCredentials('pw', { iterations: 4096 });
  const s = formatScramCredentials(c);
  assert.match(s, /^4096\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]{44}\$[A-Za-z0-9+/=]{44}$/);
  assert.deepEqual(parseScramCredentials(s), c);
  for (const bad of ['', '4096$a$b', '0$AAAA$AAAA$AAAA', 'x$AAAA$AAAA$AAAA', `99999999999$${s.split('$').slice(1).join('$')}`, s.replace(/\$[^$]+$/, '$AAAA'), '4096$$' + s.split('$').slice(2).join('$')]) {
    assert.throws(() => parseScramCredentials(bad), (e) => isAuthError(e, 'scramCredentials'), bad);
  }
});

test('client-first parsing: authzid, escaped names, y flag, and refusals', () => {
  const a = parseClientFirst('n,a=bob,n=bob,r=abc');
  assert.ok(a.ok && a.value.authzid === 'bob' && a.value.gs2Header === 'n,a=bob,');
  const b = parseClientFirst('y,,n=we=2Cird=3Dname,r=abc,x=ext');
  assert.ok(b.ok && b.value.authcid === 'we,ird=name' && b.value.bare === 'n=we=2Cird=3Dname,r=abc,x=ext');
  for (const bad of ['', 'n', 'n,', 'p=tls-unique,,n=u,r=abc', 'x,,n=u,r=abc', 'n,b=x,n=u,r=abc', 'n,,m=ext,n=u,r=abc', 'n,,n=,r=abc', 'n,,n=u=41,r=abc', 'n,,n=u', 'n,,n=u,r=', 'n,,r=abc,n=u', 'n,,n=u,r=a b']) {
    assert.equal(parseClientFirst(bad).ok, false, bad);
  }
});

test('client-final parsing refuses a missing proof or bad base64', () => {
  for (const bad of ['', 'c=biws,r=abc', 'r=abc,c=biws,p=AAAA', 'c=biws,r=abc,p=!!!!', 'c=bi,r=abc,p=AAAA']) {
    assert.equal(parseClientFinal(bad).ok, false, bad);
  }
  const ok = parseClientFinal('c=biws,r=abc,x=1,p=AAAA');
  assert.ok(ok.ok && ok.value.withoutProof === 'c=biws,r=abc,x=1');
});

test('a proof of the wrong length fails without a throw', async () => {
  const c = await deriveScramCredentials('pw', { iterations: 4096 });
  assert.equal(verifyClientProof(c, 'x', Buffer.alloc(5)), false);
  assert.equal(verifyClientProof(c, 'x', Buffer.alloc(0)), false);
});

test('server nonces are printable, comma-free and unique', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const n = serverNonce();
    assert.match(n, /^[\x21-\x2b\x2d-\x7e]{16,}$/);
    seen.add(n);
  }
  assert.equal(seen.size, 100);
});

function flipProofBit(clientFinal: string): string {
  const i = clientFinal.lastIndexOf(',p=');
  const proof = Buffer.from(clientFinal.slice(i + 3), 'base64');
  proof[0]! ^= 1;
  return `${clientFinal.slice(0, i)},p=${proof.toString('base64')}`;
}
