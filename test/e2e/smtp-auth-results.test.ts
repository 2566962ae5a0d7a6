/**
 * Inbound authentication end to end: a DNS server of our own on loopback
 * (dns2) serves the SPF, DKIM and DMARC records; messages arrive over SMTP
 * from 127.0.0.1; the stored message carries Authentication-Results with our
 * host name, and DMARC p=reject is honoured when the administrator enabled it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import dns2 from 'dns2';
import { dkimSign, sealMessage } from 'mailauth';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { RawSmtp } from './smtp-helpers.js';

interface TxtDns {
  server: string;
  close(): Promise<void>;
}

/** A loopback DNS server answering TXT queries from `records` (long strings split into 255-octet chunks); all else NXDOMAIN. */
async function startTxtDns(records: Record<string, string>): Promise<TxtDns> {
  // dns2's typings lack the packet constants; the runtime has them.
  const Packet = dns2.Packet as any;
  const server = dns2.createServer({
    udp: true,
    handle: (request: any, send: (r: any) => void) => {
      const response = Packet.createResponseFromRequest(request);
      const [q] = request.questions;
      const name = String(q.name).toLowerCase().replace(/\.$/, '');
      const txt = records[name];
      if (txt === undefined) {
        response.header.rcode = Packet.RCODE.NXDOMAIN;
        return send(response);
      }
      if (q.type === Packet.TYPE.TXT) {
        const chunks: string[] = [];
        for (let i = 0; i < txt.length; i += 255) chunks.push(txt.slice(i, i + 255));
        response.answers.push({ name: q.name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 60, data: chunks });
      }
      send(response);
    },
  });
  const listening = once(server, 'listening');
  server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  await listening;
  const port = (server.addresses().udp as AddressInfo).port;
  return { server: `127.0.0.1:${port}`, close: async () => void (await server.close()) };
}

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicB64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

async function signed(raw: string, domain: string, selector: string): Promise<string> {
  const { signatures, errors } = await dkimSign(raw, {
    signatureData: [{ signingDomain: domain, selector, privateKey: privatePem, algorithm: 'rsa-sha256', canonicalization: 'relaxed/relaxed' }],
  } as Parameters<typeof dkimSign>[1]);
  assert.deepEqual(errors, []);
  return signatures + raw;
}

async function send(t: TestServer, from: string, to: string, raw: string): Promise<{ code: number; text: string }> {
  const c = await RawSmtp.connect(t.port('smtp'));
  await c.read();
  await c.cmd('EHLO client.signer.test');
  assert.equal((await c.cmd(`MAIL FROM:<${from}>`)).code, 250);
  assert.equal((await c.cmd(`RCPT TO:<${to}>`)).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  c.write(`${raw.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')}\r\n.\r\n`);
  const r = await c.read();
  c.end();
  return { code: r.code, text: r.lines[0] ?? '' };
}

async function lastMessage(t: TestServer, address: string): Promise<string> {
  const r = (await t.store.resolveAddress(address)) as { user: { id: number } };
  const mb = await t.store.getMailbox(r.user.id, 'INBOX');
  const msgs = await t.store.listMessages(mb!.id);
  return (await t.store.blobs.read(msgs[msgs.length - 1]!.blobId)).toString();
}

function authResults(message: string): string {
  const m = /^Authentication-Results: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)/m.exec(message);
  assert.ok(m, 'has Authentication-Results');
  return m[1]!.replace(/\r\n[ \t]+/g, ' ');
}

describe('inbound SPF, DKIM, DMARC and Authentication-Results', () => {
  let dns: TxtDns;
  let strict: TestServer;
  let lenient: TestServer;

  before(async () => {
    dns = await startTxtDns({
      'signer.test': 'v=spf1 ip4:127.0.0.1 -all',
      'sel._domainkey.signer.test': `v=DKIM1; k=rsa; p=${publicB64}`,
      '_dmarc.signer.test': 'v=DMARC1; p=reject',
      'bank.test': 'v=spf1 ip4:192.0.2.1 -all',
      '_dmarc.bank.test': 'v=DMARC1; p=reject',
      'relaxed.test': 'v=spf1 ip4:192.0.2.1 -all',
      '_dmarc.relaxed.test': 'v=DMARC1; p=none',
    });
    const common = { smtp: { authenticate: true, dnsServers: [dns.server], policyCacheSeconds: 0 } };
    strict = await startTestServer({ ...common, smtp: { ...common.smtp, dmarcReject: true } }, { services: ['smtp'] });
    lenient = await startTestServer(common, { services: ['smtp'] });
    for (const t of [strict, lenient]) await t.addUser('alice@example.test', 'alice-secret');
  });

  after(async () => {
    await strict?.stop();
    await lenient?.stop();
    await dns?.close();
  });

  test('a DKIM-signed message from an SPF-authorised host: dkim=pass, spf=pass, dmarc=pass', async () => {
    const raw = await signed(
      'From: Sender <sender@signer.test>\r\nTo: alice@example.test\r\nSubject: signed\r\nMessage-ID: <signed-1@signer.test>\r\n\r\nThis message is signed.\r\n',
      'signer.test',
      'sel',
    );
    const r = await send(strict, 'sender@signer.test', 'alice@example.test', raw);
    assert.equal(r.code, 250, r.text);
    const m = await lastMessage(strict, 'alice@example.test');
    const ar = authResults(m);
    assert.match(ar, /^mail\.test;/);
    assert.match(ar, /dkim=pass [^;]*header\.i=@signer\.test header\.s=sel/);
    assert.match(ar, /spf=pass [^;]*smtp\.mailfrom=(sender@)?signer\.test/);
    assert.match(ar, /dmarc=pass [^;]*header\.from=signer\.test/);
    assert.ok(m.startsWith('Received: '), 'Received first');
    assert.ok(m.includes('DKIM-Signature: '), 'the signature is kept');
  });

  test('an ARC-sealed message (a forwarder vouching for it): arc=pass', async () => {
    const raw = await signed('From: sender@signer.test\r\nTo: list@signer.test\r\nSubject: via a list\r\n\r\nforwarded\r\n', 'signer.test', 'sel');
    const seal = await sealMessage(raw, {
      signingDomain: 'signer.test',
      selector: 'sel',
      privateKey: privatePem,
      authResults: 'lists.signer.test; dkim=pass header.d=signer.test; spf=pass smtp.mailfrom=signer.test',
      cv: 'none',
    } as Parameters<typeof sealMessage>[1]);
    const r = await send(lenient, 'list-bounces@signer.test', 'alice@example.test', seal.toString() + raw);
    assert.equal(r.code, 250);
    assert.match(authResults(await lastMessage(lenient, 'alice@example.test')), /arc=pass/);
  });

  test('a signature broken in transit: dkim=fail, and DMARC still passes on SPF alignment', async () => {
    const raw = await signed('From: sender@signer.test\r\nTo: alice@example.test\r\nSubject: original\r\n\r\nbody\r\n', 'signer.test', 'sel');
    const r = await send(lenient, 'sender@signer.test', 'alice@example.test', raw.replace('Subject: original', 'Subject: tampered'));
    assert.equal(r.code, 250);
    const ar = authResults(await lastMessage(lenient, 'alice@example.test'));
    assert.match(ar, /dkim=(fail|neutral)/);
    assert.match(ar, /dmarc=pass/);
  });

  test('DMARC p=reject: a forged From is refused with 550 5.7.1 when dmarc_reject is on, nothing stored', async () => {
    const before = await strict.store.stats();
    const raw = 'From: Bank <security@bank.test>\r\nTo: alice@example.test\r\nSubject: verify your account\r\n\r\nclick here\r\n';
    const r = await send(strict, 'security@bank.test', 'alice@example.test', raw);
    assert.equal(r.code, 550);
    assert.match(r.text, /^5\.7\.1 /);
    assert.equal((await strict.store.stats()).messages, before.messages);
  });

  test('the same forgery is accepted and marked dmarc=fail when dmarc_reject is off', async () => {
    const raw = 'From: Bank <security@bank.test>\r\nTo: alice@example.test\r\nSubject: verify again\r\n\r\nclick here\r\n';
    const r = await send(lenient, 'security@bank.test', 'alice@example.test', raw);
    assert.equal(r.code, 250);
    const ar = authResults(await lastMessage(lenient, 'alice@example.test'));
    assert.match(ar, /spf=fail/);
    assert.match(ar, /dmarc=fail [^;]*header\.from=bank\.test/);
  });

  test('p=none: a DMARC failure is only reported, even with dmarc_reject on', async () => {
    const raw = 'From: news@relaxed.test\r\nTo: alice@example.test\r\nSubject: newsletter\r\n\r\nnews\r\n';
    const r = await send(strict, 'news@relaxed.test', 'alice@example.test', raw);
    assert.equal(r.code, 250);
    assert.match(authResults(await lastMessage(strict, 'alice@example.test')), /dmarc=fail/);
  });
});
