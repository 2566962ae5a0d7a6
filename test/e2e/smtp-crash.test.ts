/**
 * Durability under kill -9: several clients send messages to a real mailroom
 * process while it is killed with SIGKILL, twice. After each restart every
 * message that got "250" is in the mailbox, and every stored message is
 * whole (nothing half-delivered). Messages in flight at the kill may or may
 * not be there: the client never heard 250 for them, and would send again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { spawnMailroom, writeTestConfig, type SpawnedMailroom } from '../helpers/server.js';
import { RawSmtp } from './smtp-helpers.js';

const CLIENTS = 4;
const RCPT = 'durable@example.test';

function body(id: string): string {
  // A few KB, so a kill can land in the middle of a transfer or a write.
  return `Subject: ${id}\r\nMessage-ID: <${id}@crash.test>\r\n\r\n${'The quick brown fox jumps over the lazy dog.\r\n'.repeat(60)}END-OF-MESSAGE ${id}\r\n`;
}

/** Send until the connection dies and `stopped()` is true; every id that got 250 goes into `acked`. */
async function client(port: number, name: string, acked: Set<string>, stopped: () => boolean): Promise<void> {
  let n = 0;
  while (!stopped()) {
    let c: RawSmtp | null = null;
    try {
      c = await RawSmtp.connect(port);
      if ((await c.read()).code !== 220) throw new Error('no greeting');
      await c.cmd(`EHLO ${name}.test`);
      while (!stopped()) {
        const id = `${name}-${n++}`;
        c.write(`MAIL FROM:<${name}@remote.test>\r\nRCPT TO:<${RCPT}>\r\nDATA\r\n`);
        const codes = [(await c.read()).code, (await c.read()).code, (await c.read()).code];
        if (codes.join() !== '250,250,354') throw new Error(`unexpected ${codes.join()}`);
        c.write(`${body(id)}.\r\n`);
        const r = await c.read();
        if (r.code === 250) acked.add(id);
      }
    } catch {
      // The server went away (or is not back yet): try again until told to stop.
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      c?.end();
    }
  }
}

async function stored(store: Store): Promise<Map<string, number>> {
  const r = (await store.resolveAddress(RCPT)) as { user: { id: number } };
  const mb = await store.getMailbox(r.user.id, 'INBOX');
  const counts = new Map<string, number>();
  for (const m of await store.listMessages(mb!.id)) {
    const raw = (await store.blobs.read(m.blobId)).toString();
    const id = /^Subject: (\S+)/m.exec(raw)?.[1];
    assert.ok(id, 'stored message has its subject');
    assert.ok(raw.endsWith(`END-OF-MESSAGE ${id}\r\n`), `stored message ${id} is whole`);
    assert.equal(raw.length, m.size, 'size matches the blob');
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe('SMTP durability under kill -9', () => {
  let dir: string;
  let configPath: string;
  let proc: SpawnedMailroom | null = null;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailroom-crash-'));
    configPath = await writeTestConfig(dir, { log: { level: 'info' }, workers: 1 });
    const store = await openStore(loadConfig({ path: configPath }));
    try {
      await store.addDomain('example.test');
      await store.addUser({
        login: RCPT,
        address: RCPT,
        credentials: { passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', scramSha256: null, sealedSecret: null },
      });
    } finally {
      await store.close();
    }
  });

  after(async () => {
    if (proc) {
      proc.kill('SIGKILL');
      await proc.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('every message that got 250 survives two kills; nothing partial is stored', async () => {
    const acked = new Set<string>();
    for (let round = 0; round < 2; round++) {
      proc = await spawnMailroom(configPath, { timeoutMs: 60_000 });
      const port = proc.port('smtp');
      let stop = false;
      const before = acked.size;
      const clients = Array.from({ length: CLIENTS }, (_, i) => client(port, `r${round}c${i}`, acked, () => stop));
      // Let a good number of messages through, then kill in the middle of the traffic.
      const deadline = Date.now() + 20_000;
      while (acked.size - before < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      proc.kill('SIGKILL');
      await proc.exited;
      stop = true;
      await Promise.all(clients);
      proc = null;
      assert.ok(acked.size - before >= 40, `round ${round}: ${acked.size - before} messages acknowledged before the kill`);
    }

    // Restart and look: through the restarted server's own store files.
    proc = await spawnMailroom(configPath, { timeoutMs: 60_000 });
    const store = await openStore(loadConfig({ path: configPath }));
    try {
      const counts = await stored(store);
      const missing = [...acked].filter((id) => !counts.has(id));
      assert.deepEqual(missing, [], `acknowledged but lost: ${missing.join(', ')}`);
      assert.ok([...counts.values()].every((n) => n === 1), 'no message stored twice');
    } finally {
      await store.close();
    }
    // And the restarted server still takes mail.
    const c = await RawSmtp.connect(proc.port('smtp'));
    assert.equal((await c.read()).code, 220);
    await c.cmd('EHLO after.test');
    await c.cmd('MAIL FROM:<a@remote.test>');
    assert.equal((await c.cmd(`RCPT TO:<${RCPT}>`)).code, 250);
    await c.cmd('DATA');
    c.write(`${body('after-restart')}.\r\n`);
    assert.equal((await c.read()).code, 250);
    c.end();
  });
});
