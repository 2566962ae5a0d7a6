/**
 * POP3 end to end with Python's poplib, a real client, against a real server
 * (SQLite in a temp dir, real sockets, real TLS): RFC 1939 commands, the UPDATE
 * state at QUIT only, the maildrop lock, the login snapshot, STLS and implicit TLS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runPython, sampleMessage, WireClient } from '../../src/pop3/testing.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let port: number;
let tlsPort: number;
let ca: string;
let nextUser = 0;

const PY = `
import poplib, json, ssl, socket, time
def j(x): print(json.dumps(x))
def d(b): return b.decode('latin1')
`;

/** A fresh user with n sample messages; returns its login, password and the raw messages. */
async function newUser(n: number): Promise<{ login: string; password: string; raws: string[] }> {
  const login = `pop${++nextUser}@example.org`;
  const password = `pw-${nextUser}-secret`;
  await srv.addUser(login, password);
  const raws: string[] = [];
  for (let i = 1; i <= n; i++) {
    const raw = sampleMessage(i, login);
    raws.push(raw);
    await srv.deliver(login, raw);
  }
  return { login, password, raws };
}

function login(u: { login: string; password: string }, p = 'p'): string {
  return `${p}.user(${JSON.stringify(u.login)}); ${p}.pass_(${JSON.stringify(u.password)})`;
}

before(async () => {
  srv = await startTestServer({ auth: { maxFailuresPerIp: 1000, maxFailuresPerAccount: 1000 } }, { services: ['pop3'] });
  port = srv.port('pop3');
  tlsPort = srv.port('pop3', 'implicit');
  ca = srv.tls.cert;
});

after(async () => {
  await srv?.stop();
});

describe('pop3 with python poplib', () => {
  it('STAT, LIST, UIDL, RETR and TOP; LIST sizes equal the octets RETR sends', async () => {
    const u = await newUser(3);
    const r = (await runPython(`${PY}
p = poplib.POP3('127.0.0.1', ${port})
${login(u)}
stat = p.stat()
resp, lst, _ = p.list()
uresp, uidl, _ = p.uidl()
retr = []
for i in range(1, stat[0] + 1):
    resp, lines, octets = p.retr(i)
    retr.append({'resp': d(resp), 'octets': octets, 'text': '\\r\\n'.join(d(l) for l in lines) + '\\r\\n'})
tresp, tlines, _ = p.top(2, 1)
one = d(p.list(3))
j({'stat': stat, 'list': [d(x) for x in lst], 'uidl': [d(x) for x in uidl], 'retr': retr, 'top': [d(l) for l in tlines], 'one': one, 'quit': d(p.quit())})
`)) as { stat: [number, number]; list: string[]; uidl: string[]; retr: Array<{ resp: string; octets: number; text: string }>; top: string[]; one: string; quit: string };
    const sizes = u.raws.map((m) => Buffer.byteLength(m));
    assert.deepEqual(r.stat, [3, sizes.reduce((a, b) => a + b, 0)]);
    assert.deepEqual(r.list, sizes.map((s, i) => `${i + 1} ${s}`));
    assert.equal(r.one, `+OK 3 ${sizes[2]}`);
    r.retr.forEach((m, i) => {
      assert.equal(m.text, u.raws[i], `message ${i + 1} comes back byte for byte`);
      assert.equal(m.octets, sizes[i], 'octets received equal the LIST size');
      assert.equal(m.resp, `+OK ${sizes[i]} octets`);
    });
    const header = u.raws[1]!.split('\r\n\r\n')[0]!.split('\r\n');
    assert.deepEqual(r.top, [...header, '', 'line one of message 2']);
    assert.equal(r.uidl.length, 3);
    assert.equal(new Set(r.uidl.map((l) => l.split(' ')[1])).size, 3);
    assert.match(r.quit, /^\+OK/);
  });

  it('UIDL identifiers stay the same across sessions and when other messages are deleted', async () => {
    const u = await newUser(4);
    const script = (dele: boolean) => `${PY}
p = poplib.POP3('127.0.0.1', ${port})
${login(u)}
ids = [d(x) for x in p.uidl()[1]]
${dele ? 'p.dele(2)' : ''}
p.quit()
j(ids)
`;
    const first = (await runPython(script(true))) as string[];
    const second = (await runPython(script(false))) as string[];
    const byId = (lines: string[]) => lines.map((l) => l.split(' ')[1]);
    assert.deepEqual(byId(second), [byId(first)[0], byId(first)[2], byId(first)[3]]);
    assert.deepEqual(second.map((l) => l.split(' ')[0]), ['1', '2', '3'], 'numbers are dense again in a new session');
  });

  it('DELE + QUIT removes exactly the marked messages; RSET unmarks', async () => {
    const u = await newUser(5);
    const r = (await runPython(`${PY}
p = poplib.POP3('127.0.0.1', ${port})
${login(u)}
p.dele(1); p.dele(2)
rset = d(p.rset())
p.dele(3); p.dele(5)
after = p.stat()
try:
    p.retr(3); err = None
except poplib.error_proto as e:
    err = d(e.args[0])
q = d(p.quit())
p = poplib.POP3('127.0.0.1', ${port})
${login(u)}
left = [d(l) for l in p.retr(1)[1]] + ['--'] + [d(l) for l in p.retr(2)[1]]
stat = p.stat()
p.quit()
j({'rset': rset, 'after': after, 'err': err, 'quit': q, 'stat': stat, 'left': left})
`)) as { rset: string; after: [number, number]; err: string; quit: string; stat: [number, number]; left: string[] };
    assert.match(r.rset, /^\+OK/);
    assert.equal(r.after[0], 3);
    assert.equal(r.err, '-ERR Message 3 is deleted');
    assert.match(r.quit, /^\+OK .*3 messages left/);
    assert.equal(r.stat[0], 3);
    assert.ok(r.left.includes('Subject: message 1') && r.left.includes('Subject: message 2'));
  });

  it('DELE then a dropped connection deletes nothing, and the maildrop is free again', async () => {
    const u = await newUser(3);
    const r = (await runPython(`${PY}
p = poplib.POP3('127.0.0.1', ${port})
${login(u)}
p.dele(1); p.dele(2); p.dele(3)
p.sock.close()
time.sleep(0.3)
p = poplib.POP3('127.0.0.1', ${port})
${login(u)}
stat = p.stat()
p.quit()
j(stat)
`)) as [number, number];
    assert.equal(r[0], 3);
    const inbox = await srv.store.getMailbox((await srv.store.getUserByLogin(u.login))!.id, 'INBOX');
    assert.equal((await srv.store.listMessages(inbox!.id)).length, 3);
  });

  it('a second session on the same maildrop gets -ERR [IN-USE]; after QUIT it is free', async () => {
    const u = await newUser(1);
    const r = (await runPython(`${PY}
a = poplib.POP3('127.0.0.1', ${port})
${login(u, 'a')}
b = poplib.POP3('127.0.0.1', ${port})
b.user(${JSON.stringify(u.login)})
try:
    b.pass_(${JSON.stringify(u.password)}); inuse = None
except poplib.error_proto as e:
    inuse = d(e.args[0])
a.quit()
b.user(${JSON.stringify(u.login)})
again = d(b.pass_(${JSON.stringify(u.password)}))
b.quit()
j({'inuse': inuse, 'again': again})
`)) as { inuse: string; again: string };
    assert.match(r.inuse, /^-ERR \[IN-USE\]/);
    assert.match(r.again, /^\+OK .* has 1 messages/);
  });

  it('mail delivered during a session is not shown to it, only to the next one', async () => {
    const u = await newUser(2);
    const wire = await WireClient.connect(port);
    assert.match(await wire.line(), /^\+OK/);
    assert.match(await wire.cmd(`USER ${u.login}`), /^\+OK/);
    assert.match(await wire.cmd(`PASS ${u.password}`), /^\+OK .* has 2 messages/);
    await srv.deliver(u.login, sampleMessage(99, u.login));
    assert.match(await wire.cmd('STAT'), /^\+OK 2 /);
    assert.match(await wire.cmd('LIST 3'), /^-ERR No such message/);
    assert.match(await wire.cmd('QUIT'), /^\+OK/);
    await wire.closed;
    const again = await WireClient.connect(port);
    await again.line();
    await again.cmd(`USER ${u.login}`);
    assert.match(await again.cmd(`PASS ${u.password}`), /has 3 messages/);
    await again.cmd('QUIT');
  });

  it('RETR marks messages \\Seen and retrieved; TOP marks retrieved only', async () => {
    const u = await newUser(3);
    await runPython(`${PY}
p = poplib.POP3('127.0.0.1', ${port})
${login(u)}
p.retr(1); p.top(2, 0)
p.quit()
j(1)
`);
    const user = (await srv.store.getUserByLogin(u.login))!;
    const inbox = (await srv.store.getMailbox(user.id, 'INBOX'))!;
    const msgs = await srv.store.listMessages(inbox.id);
    assert.deepEqual(msgs.map((m) => m.flags.includes('\\Seen')), [true, false, false]);
    const retrieved = await srv.store.listRetrievedBefore(inbox.id, new Date(Date.now() + 60_000));
    assert.deepEqual(retrieved, [msgs[0]!.uid, msgs[1]!.uid]);
  });

  it('STLS upgrades the connection (poplib.stls) and logs in over it', async () => {
    const u = await newUser(1);
    const r = (await runPython(`${PY}
ctx = ssl.create_default_context(cadata=${JSON.stringify(ca)})
ctx.check_hostname = False
p = poplib.POP3('127.0.0.1', ${port})
before = sorted(p.capa().keys())
p.stls(ctx)
after = sorted(p.capa().keys())
${login(u)}
stat = p.stat(); ver = p.sock.version()
p.quit()
j({'before': before, 'after': after, 'stat': stat, 'tls': ver})
`)) as { before: string[]; after: string[]; stat: [number, number]; tls: string };
    assert.ok(r.before.includes('STLS'));
    assert.ok(!r.after.includes('STLS'), 'no STLS once TLS is on');
    assert.equal(r.stat[0], 1);
    assert.match(r.tls, /^TLSv1\.[23]$/);
  });

  it('implicit TLS on its own port (POP3_SSL)', async () => {
    const u = await newUser(2);
    const r = (await runPython(`${PY}
ctx = ssl.create_default_context(cadata=${JSON.stringify(ca)})
ctx.check_hostname = False
p = poplib.POP3_SSL('127.0.0.1', ${tlsPort}, context=ctx)
caps = sorted(p.capa().keys())
${login(u)}
resp, lines, octets = p.retr(2)
p.quit()
j({'caps': caps, 'octets': octets})
`)) as { caps: string[]; octets: number };
    assert.ok(!r.caps.includes('STLS'));
    assert.ok(r.caps.includes('USER'));
    assert.equal(r.octets, Buffer.byteLength(u.raws[1]!));
  });

  it('a 3 MB message with dot-lines across chunk boundaries arrives whole', async () => {
    const u = await newUser(0);
    // Lines of varied length so leading dots fall on every offset of the 64 KB read chunks.
    const lines: string[] = [];
    let size = 0;
    for (let i = 0; size < 3 * 1024 * 1024; i++) {
      const line = `${i % 7 === 0 ? '.' : ''}${'x'.repeat(i % 113)}`;
      lines.push(line);
      size += line.length + 2;
    }
    const raw = `Subject: big\r\nFrom: a@example.com\r\n\r\n${lines.join('\r\n')}\r\n`;
    await srv.deliver(u.login, raw);
    const r = (await runPython(`${PY}
import hashlib
p = poplib.POP3('127.0.0.1', ${port})
${login(u)}
size = int(d(p.list(1)).split()[2])
resp, lines, octets = p.retr(1)
p.quit()
j({'size': size, 'octets': octets, 'sha': hashlib.sha256(b'\\r\\n'.join(lines) + b'\\r\\n').hexdigest()})
`)) as { size: number; octets: number; sha: string };
    const { createHash } = await import('node:crypto');
    assert.equal(r.size, Buffer.byteLength(raw));
    assert.equal(r.octets, r.size);
    assert.equal(r.sha, createHash('sha256').update(raw).digest('hex'));
  });
});
