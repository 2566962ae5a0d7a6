/**
 * Sessions on different worker processes of one node (node:cluster, the
 * change bus relayed through the primary): IDLE sessions on every worker hear
 * of an APPEND made on another within a second, and a flag change too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawImap } from '../../src/imap/testing/raw-client.js';
import { spawnMailroom, writeTestConfig, type SpawnedMailroom } from '../helpers/server.js';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('IMAP across worker processes', () => {
  let dir: string;
  let proc: SpawnedMailroom;
  let port: number;
  const clients: RawImap[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imap-cluster-'));
    port = await freePort();
    const cfg = await writeTestConfig(dir, {
      workers: 2,
      log: { level: 'info' },
      imap: { port, tlsPort: await freePort() },
      smtp: { enabled: false },
      submission: { enabled: false },
      pop3: { enabled: false },
      fetch: { enabled: false },
      queue: { enabled: false },
    });
    // Create the user through the CLI's store path: open the store directly before start.
    const { loadConfig } = await import('../../src/config/load.js');
    const { openStore } = await import('../../src/store/open.js');
    const { createAuthenticator } = await import('../../src/auth/index.js');
    const loaded = loadConfig({ path: cfg, env: {} });
    const store = await openStore(loaded);
    const auth = createAuthenticator({ store, config: loaded.config, secrets: { seal: (s) => s, unseal: (s) => s } });
    await store.addDomain('example.com');
    await store.addUser({ login: 'w@example.com', address: 'w@example.com', credentials: await auth.deriveCredentials('pw') });
    await store.close();
    proc = await spawnMailroom(cfg, { workers: 2, timeoutMs: 60_000 });
  });

  after(async () => {
    for (const c of clients) c.close();
    if (proc) {
      proc.kill('SIGTERM');
      await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('IDLE sessions on every worker hear of an APPEND made on another', async () => {
    // Connections are spread over the workers round-robin; six make sure both have some.
    const idlers: RawImap[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await RawImap.connect(port);
      clients.push(c);
      await c.cmd('L', 'LOGIN w@example.com pw');
      const sel = await c.cmd('S', 'SELECT INBOX');
      assert.ok(sel.includes('* 0 EXISTS'), sel.join('\n'));
      c.write('I IDLE\r\n');
      assert.match(await c.line(), /^\+ /);
      idlers.push(c);
    }
    const writer = await RawImap.connect(port);
    clients.push(writer);
    await writer.cmd('L', 'LOGIN w@example.com pw');
    const m = 'Subject: across workers\r\n\r\nhello\r\n';
    const t0 = Date.now();
    const r = await writer.cmd('A', `APPEND INBOX {${m.length}+}\r\n${m}`);
    assert.match(r.at(-1)!, /^A OK/);
    for (const c of idlers) assert.equal(await c.waitFor(/ EXISTS$/, 1000), '* 1 EXISTS');
    assert.ok(Date.now() - t0 < 1000, `all heard within a second (${Date.now() - t0} ms)`);

    await writer.cmd('S', 'SELECT INBOX');
    await writer.cmd('F', 'STORE 1 +FLAGS (\\Flagged)');
    for (const c of idlers) assert.match(await c.waitFor(/ FETCH /, 1000), /^\* 1 FETCH \(FLAGS \(\\Flagged \\Recent\)\)$/);
    for (const c of idlers) {
      c.write('DONE\r\n');
      assert.match((await c.until('I')).at(-1)!, /^I OK/);
    }
  });
});
