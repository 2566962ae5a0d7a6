/**
 * A client that half-closes its socket during IDLE (no DONE) must not leave the
 * server spinning: the session ends and the connection closes.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('IMAP IDLE and a vanishing client', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({}, { services: ['imap'] });
    await server.addUser('idler@example.test', 'idle-pass');
  });
  after(() => server.stop());

  it('a half-close during IDLE ends the session without spinning', async () => {
    const sock = connect(server.port('imap'), '127.0.0.1');
    let text = '';
    sock.on('data', (d) => (text += d.toString()));
    const until = async (re: RegExp) => {
      const deadline = Date.now() + 5000;
      while (!re.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${re} in:\n${text}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await until(/^\* OK/m);
    sock.write('a LOGIN idler@example.test idle-pass\r\nb SELECT INBOX\r\nc IDLE\r\n');
    await until(/^\+ /m);
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    const cpuBefore = process.cpuUsage();
    const t0 = Date.now();
    sock.end(); // FIN, no DONE
    await Promise.race([closed, new Promise((_, rej) => setTimeout(() => rej(new Error('server kept the half-closed IDLE session open')), 3000))]);
    await new Promise((r) => setTimeout(r, 300));
    const cpu = process.cpuUsage(cpuBefore);
    const wall = (Date.now() - t0) * 1000;
    assert.ok(cpu.user + cpu.system < wall * 0.8, `server busy after the client left: ${Math.round(((cpu.user + cpu.system) / wall) * 100)}% CPU`);
  });
});
