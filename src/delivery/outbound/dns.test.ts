import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { addressLiteral, createDnsResolver, lookupAddresses, lookupMx, orderMx, type DnsResolver } from './dns.js';
import { startTestDns, type TestDns } from './testing.js';

let dns: TestDns;
let resolver: DnsResolver;
before(async () => {
  dns = await startTestDns({
    'multi.test': {
      mx: [
        { exchange: 'backup.multi.test', priority: 20 },
        { exchange: 'mx1.multi.test', priority: 10 },
        { exchange: 'mx2.multi.test', priority: 10 },
      ],
    },
    'mx1.multi.test': { a: ['127.0.0.1'] },
    'mx2.multi.test': { a: ['127.0.0.2'], aaaa: ['::1'] },
    'backup.multi.test': { rcode: 'SERVFAIL' },
    'implicit.test': { a: ['127.0.0.3'] },
    'nullmx.test': { nullMx: true },
    'servfail.test': { rcode: 'SERVFAIL' },
    'silent.test': { silent: true },
    'nohost.test': { mx: [{ exchange: 'missing.nohost.test', priority: 5 }] },
    'empty.test': {},
  });
  resolver = createDnsResolver([dns.server], { timeoutMs: 300, tries: 1 });
});
after(() => dns.close());

test('MX records come back in preference order, equal preferences shuffled', async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const r = await lookupMx(resolver, 'multi.test');
    assert.ok(r.ok);
    assert.deepEqual(r.hosts.map((h) => h.preference), [10, 10, 20]);
    assert.equal(r.hosts[2]!.name, 'backup.multi.test');
    seen.add(r.hosts[0]!.name);
  }
  assert.deepEqual([...seen].sort(), ['mx1.multi.test', 'mx2.multi.test'], 'both equal-preference hosts come first sometimes');
});

test('orderMx is deterministic with a given random source and drops duplicates and trailing dots', () => {
  const hosts = orderMx(
    [
      { exchange: 'B.example.', priority: 5 },
      { exchange: 'a.example', priority: 5 },
      { exchange: 'b.example', priority: 1 },
    ],
    () => 0.5,
  );
  assert.deepEqual(hosts.map((h) => h.name), ['b.example', 'a.example']);
});

test('no MX record: the domain itself is the mail host (implicit MX)', async () => {
  const r = await lookupMx(resolver, 'implicit.test');
  assert.deepEqual(r, { ok: true, hosts: [{ name: 'implicit.test', preference: 0, implicit: true }] });
});

test('null MX is a permanent failure with 5.1.10', async () => {
  const r = await lookupMx(resolver, 'nullmx.test');
  assert.equal(r.ok, false);
  assert.ok(!r.ok && !r.temporary);
  assert.match(!r.ok ? r.reply : '', /^556 5\.1\.10 /);
});

test('NXDOMAIN is permanent; SERVFAIL and silence are temporary', async () => {
  const nx = await lookupMx(resolver, 'does-not-exist.test');
  assert.ok(!nx.ok && !nx.temporary);
  assert.match(!nx.ok ? nx.reply : '', /^550 5\.1\.2 Host or domain name not found/);

  const sf = await lookupMx(resolver, 'servfail.test');
  assert.ok(!sf.ok && sf.temporary);
  assert.match(!sf.ok ? sf.reply : '', /^451 4\.4\.3 .*SERVFAIL/);

  const to = await lookupMx(resolver, 'silent.test');
  assert.ok(!to.ok && to.temporary);
  assert.match(!to.ok ? to.reply : '', /^451 4\.4\.3 .*timed out/);
});

test('host addresses: IPv4 then IPv6; a host without addresses is permanent, a failing lookup temporary', async () => {
  assert.deepEqual(await lookupAddresses(resolver, 'mx2.multi.test'), { ok: true, addresses: ['127.0.0.2', '::1'] });
  assert.deepEqual(await lookupAddresses(resolver, '127.0.0.9'), { ok: true, addresses: ['127.0.0.9'] });
  const missing = await lookupAddresses(resolver, 'missing.nohost.test');
  assert.ok(!missing.ok && !missing.temporary);
  const empty = await lookupAddresses(resolver, 'empty.test');
  assert.ok(!empty.ok && !empty.temporary);
  const failing = await lookupAddresses(resolver, 'backup.multi.test');
  assert.ok(!failing.ok && failing.temporary);
});

test('address literals skip DNS', async () => {
  assert.equal(addressLiteral('[127.0.0.1]'), '127.0.0.1');
  assert.equal(addressLiteral('[IPv6:::1]'), '::1');
  assert.equal(addressLiteral('[not-an-ip]'), null);
  assert.equal(addressLiteral('example.org'), null);
  const before = dns.queries.length;
  const r = await lookupMx(resolver, '[127.0.0.1]');
  assert.deepEqual(r, { ok: true, hosts: [{ name: '127.0.0.1', preference: 0, implicit: true }] });
  assert.equal(dns.queries.length, before);
  const bad = await lookupMx(resolver, '[999.1.1.1]');
  assert.ok(!bad.ok && !bad.temporary);
});
