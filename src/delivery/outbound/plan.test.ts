import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema, type Config } from '../../config/schema.js';
import { createDnsResolver } from './dns.js';
import { planDelivery, recipientDomain, smarthostFor, validSender } from './plan.js';
import { startTestDns, type TestDns } from './testing.js';

test('recipientDomain accepts what can go into RCPT TO and nothing else', () => {
  assert.equal(recipientDomain('bob@Example.ORG'), 'example.org');
  assert.equal(recipientDomain('"odd local"@example.org'), 'example.org');
  assert.equal(recipientDomain('bob@example.org.'), 'example.org');
  assert.equal(recipientDomain('bob@[127.0.0.1]'), '[127.0.0.1]');
  assert.equal(recipientDomain('bøb@exämple.org'), 'exämple.org', 'SMTPUTF8 addresses are routable');
  for (const bad of ['', 'bob', '@example.org', 'bob@', 'bob@@example.org', 'bo b@example.org', 'bob@exa mple.org', 'bob@localhost', 'bob@-x.org', 'a..b@example.org', 'bob@example.org\r\nRCPT TO:<x@y.z>', '<bob@example.org>', 'bob@[999.0.0.1]', 'x'.repeat(65) + '@example.org']) {
    assert.equal(recipientDomain(bad), null, JSON.stringify(bad));
  }
  assert.equal(validSender(''), true);
  assert.equal(validSender('a@example.org'), true);
  assert.equal(validSender('a@example.org>'), false);
});

const config = (queue: Record<string, unknown>): Config => configSchema.parse({ queue });

test('smarthost choice: per-domain (with subdomains) before the catch-all, else MX', () => {
  const c = config({
    smarthost: { host: 'relay.isp.test', port: 587 },
    smarthosts: [{ host: 'partner-relay.test', port: 25, domains: ['partner.test'] }],
  });
  assert.equal(smarthostFor('partner.test', c)?.host, 'partner-relay.test');
  assert.equal(smarthostFor('eu.partner.test', c)?.host, 'partner-relay.test');
  assert.equal(smarthostFor('notpartner.test', c)?.host, 'relay.isp.test');
  assert.equal(smarthostFor('anything.test', config({})), null);
  const limited = config({ smarthost: { host: 'r.test', domains: ['only.test'] } });
  assert.equal(smarthostFor('other.test', limited), null);
  assert.equal(smarthostFor('only.test', limited)?.tls, 'starttls');
});

let dns: TestDns;
before(async () => {
  dns = await startTestDns({
    'a.test': { mx: [{ exchange: 'mx.shared.test', priority: 10 }] },
    'b.test': { mx: [{ exchange: 'mx.shared.test', priority: 10 }] },
    'c.test': { mx: [{ exchange: 'mx.c.test', priority: 10 }] },
    'null.test': { nullMx: true },
    'sf.test': { rcode: 'SERVFAIL' },
  });
});
after(() => dns.close());

test('planDelivery groups recipients by their list of hosts and fails the unroutable ones', async () => {
  const resolver = createDnsResolver([dns.server], { timeoutMs: 300, tries: 1 });
  const rcpts = ['x@a.test', 'y@b.test', 'z@c.test', 'w@a.test', 'n@null.test', 's@sf.test', 'bad@@a.test'].map((address, id) => ({ id, address }));
  const plan = await planDelivery(rcpts, { config: config({ remotePort: 2525 }), resolver });
  const groups = plan.groups.map((g) => [g.destination.hosts.map((h) => h.key).join(','), g.recipients.map((r) => r.address)]);
  assert.deepEqual(groups, [
    ['mx.shared.test:2525', ['x@a.test', 'y@b.test', 'w@a.test']],
    ['mx.c.test:2525', ['z@c.test']],
  ]);
  const failures = Object.fromEntries(plan.failures.map((f) => [f.recipient.address, f.temporary]));
  assert.deepEqual(failures, { 'n@null.test': false, 's@sf.test': true, 'bad@@a.test': false });
  const viaRelay = await planDelivery(rcpts.slice(0, 3), { config: config({ smarthost: { host: '127.0.0.1', port: 2526, tls: 'none' } }), resolver });
  assert.equal(viaRelay.groups.length, 1);
  assert.equal(viaRelay.groups[0]!.destination.hosts[0]!.key, 'smarthost:127.0.0.1:2526');
});
