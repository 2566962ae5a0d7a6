import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { createSecrets } from '../auth/secrets.js';
import { createDirBlobStore } from '../store/blobs/dir.js';
import { LocalBus } from '../store/bus.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import type { Store } from '../store/types.js';
import { DkimSigner, dkimDnsRecord, fromDomain, generateDkimKey, loadDkimKey, saveDkimKey } from './dkim.js';

let dir: string;
let store: Store;
const secrets = createSecrets(randomBytes(32));
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailroom-dkim-'));
  store = await openSqliteStore({ path: join(dir, 'db.sqlite'), blobs: createDirBlobStore(join(dir, 'blobs')), bus: new LocalBus() });
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const message = Buffer.from(
  'From: "Alice, Example" <alice@Example.ORG>\r\nTo: bob@remote.test\r\nSubject: signed\r\nDate: Tue, 02 Jan 2024 10:00:00 +0000\r\nMessage-ID: <s1@example.org>\r\n\r\nHello.\r\n',
);

function resolverFor(records: Record<string, string>) {
  return async (name: string, type: string) => {
    if (type === 'TXT' && records[name]) return [[records[name]!]];
    throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  };
}

test('fromDomain finds the From: domain through display names, comments and folding', () => {
  assert.equal(fromDomain(message), 'example.org');
  assert.equal(fromDomain('From: bob@Sub.Example.net (Bob)\r\n'), 'sub.example.net');
  assert.equal(fromDomain('Subject: x\r\nFrom:\r\n  "a@b" <c@d.example>\r\n'), 'd.example');
  assert.equal(fromDomain('Subject: none\r\n'), null);
  assert.equal(fromDomain('From: undisclosed\r\n'), null);
});

test('the DNS record is split into 255-octet strings', () => {
  const key = generateDkimKey('example.org', { selector: 'sel1' });
  const rec = dkimDnsRecord(key);
  assert.equal(rec.name, 'sel1._domainkey.example.org');
  assert.match(rec.value, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]+$/);
  assert.ok(rec.value.length > 255);
  const strings = [...rec.zoneLine.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  assert.ok(strings.every((s) => s.length <= 255));
  assert.equal(strings.join(''), rec.value);
  assert.throws(() => generateDkimKey('example.org', { selector: 'bad selector' }));
});

for (const algorithm of ['rsa-sha256', 'ed25519-sha256'] as const) {
  test(`a key kept sealed in the store signs mail that verifies against the published record (${algorithm})`, async () => {
    const key = generateDkimKey('example.org', { selector: `s-${algorithm.slice(0, 3)}`, algorithm });
    await saveDkimKey(store, secrets, key);
    const raw = await store.getSetting('dkim:example.org');
    assert.ok(raw && !raw.includes('PRIVATE KEY'), 'the private key is not stored in the clear');
    const loaded = await loadDkimKey(store, secrets, 'EXAMPLE.org');
    assert.equal(loaded?.privateKey, key.privateKey);

    const signer = new DkimSigner(store, secrets, 0);
    const sig = await signer.sign(message, async () => Readable.from([message]));
    assert.ok(sig);
    assert.equal(sig.domain, 'example.org');
    assert.match(sig.header, /^DKIM-Signature: /);
    assert.match(sig.header, /\r\n$/);
    const signed = Buffer.concat([Buffer.from(sig.header), message]);
    const rec = dkimDnsRecord(key);
    const result = await dkimVerify(signed, { resolver: resolverFor({ [rec.name]: rec.value }) as never });
    assert.equal(result.results[0]?.status.result, 'pass', JSON.stringify(result.results[0]?.status));

    const tampered = Buffer.from(signed.toString().replace('Hello.', 'Hellp.'));
    const bad = await dkimVerify(tampered, { resolver: resolverFor({ [rec.name]: rec.value }) as never });
    assert.notEqual(bad.results[0]?.status.result, 'pass');
  });
}

test('mail from a domain without a key goes out unsigned', async () => {
  const signer = new DkimSigner(store, secrets);
  const other = Buffer.from('From: someone@elsewhere.test\r\n\r\nx\r\n');
  assert.equal(await signer.sign(other, async () => Readable.from([other])), null);
});
