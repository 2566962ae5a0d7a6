/**
 * Several sessions on one mailbox: each hears of the others' flag changes,
 * expunges and appends as untagged FETCH / EXPUNGE / EXISTS at the moments
 * RFC 3501 7.4.1 allows, with sequence numbers that stay right; IDLE hears of
 * a delivery within a second; QRESYNC resynchronises with VANISHED (EARLIER).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawImap } from '../../src/imap/testing/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const msg = (n: number) => `From: a@example.com\r\nTo: s@example.com\r\nSubject: m${n}\r\nMessage-ID: <s${n}@example.com>\r\n\r\nbody ${n}\r\n`;

describe('IMAP sessions sharing a mailbox', () => {
  let srv: TestServer;
  let port: number;
  const clients: RawImap[] = [];

  const session = async (): Promise<RawImap> => {
    const c = await RawImap.connect(port);
    clients.push(c);
    assert.match((await c.cmd('L', 'LOGIN s@example.com pw')).at(-1)!, /^L OK/);
    return c;
  };

  /** Sequence number → UID, as this session sees it. */
  const seqToUid = async (c: RawImap, tag: string): Promise<Map<number, number>> => {
    const lines = await c.cmd(tag, 'FETCH 1:* (UID)');
    const map = new Map<number, number>();
    for (const l of lines) {
      const m = /^\* (\d+) FETCH \(UID (\d+)\)$/.exec(l);
      if (m) map.set(Number(m[1]), Number(m[2]));
    }
    return map;
  };

  before(async () => {
    srv = await startTestServer({}, { services: ['imap'] });
    port = srv.port('imap');
    await srv.addUser('s@example.com', 'pw');
    for (let i = 1; i <= 6; i++) await srv.deliver('s@example.com', msg(i));
  });

  after(async () => {
    for (const c of clients) c.close();
    await srv?.stop();
  });

  it('two sessions expunge and store against each other with right sequence numbers', async () => {
    const a = await session();
    const b = await session();
    assert.ok((await a.cmd('a1', 'SELECT INBOX')).includes('* 6 EXISTS'));
    assert.ok((await b.cmd('b1', 'SELECT INBOX')).includes('* 6 EXISTS'));

    // A flags message 2; B hears it at its next command.
    await a.cmd('a2', 'STORE 2 +FLAGS (\\Flagged)');
    const bn = await b.cmd('b2', 'NOOP');
    assert.ok(bn.some((l) => /^\* 2 FETCH \(FLAGS \(\\Flagged\)\)$/.test(l)), bn.join('\n'));

    // B deletes and expunges 3 and 5; A hears nothing during FETCH (7.4.1), then both EXPUNGEs on NOOP.
    await b.cmd('b3', 'STORE 3,5 +FLAGS.SILENT (\\Deleted)');
    const be = await b.cmd('b4', 'EXPUNGE');
    assert.deepEqual(be.filter((l) => l.endsWith('EXPUNGE')), ['* 3 EXPUNGE', '* 4 EXPUNGE']);
    const af = await a.cmd('a3', 'FETCH 1:6 (UID)');
    assert.ok(!af.some((l) => /EXPUNGE/.test(l)), af.join('\n'));
    assert.equal(af.filter((l) => /^\* \d+ FETCH /.test(l)).length, 6 - 2, 'expunged messages are not returned: ' + af.join('\n'));
    const an = await a.cmd('a4', 'NOOP');
    assert.deepEqual(
      an.filter((l) => l.endsWith('EXPUNGE')),
      ['* 3 EXPUNGE', '* 4 EXPUNGE'],
      an.join('\n'),
    );
    // UID FETCH may carry EXPUNGE; both sessions now agree on the numbering.
    const ma = await seqToUid(a, 'a5');
    const mb = await seqToUid(b, 'b5');
    assert.deepEqual([...ma.entries()], [...mb.entries()]);
    assert.deepEqual([...ma.values()], [1, 2, 4, 6]);

    // B's flag change reaches A with A's next command; then A expunges and B hears it.
    await b.cmd('b6', 'STORE 4 +FLAGS (\\Seen)');
    const a6 = await a.cmd('a6', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    assert.ok(a6.includes('* 4 FETCH (FLAGS (\\Seen))'), a6.join('\n'));
    await a.cmd('a7', 'EXPUNGE');
    const bn2 = await b.cmd('b7', 'NOOP');
    assert.ok(bn2.includes('* 1 EXPUNGE'), bn2.join('\n'));
    assert.deepEqual([...(await seqToUid(b, 'b8')).values()], [2, 4, 6]);
  });

  it('announces appends from another session as EXISTS', async () => {
    const a = await session();
    const b = await session();
    await a.cmd('a1', 'SELECT INBOX');
    await b.cmd('b1', 'SELECT INBOX');
    const m = msg(42);
    await b.cmd('b2', `APPEND INBOX {${m.length}+}\r\n${m}`);
    const bn = await b.cmd('b3', 'NOOP');
    const an = await a.cmd('a2', 'NOOP');
    const exists = (lines: string[]) => lines.find((l) => / EXISTS$/.test(l));
    assert.ok(exists(an), an.join('\n'));
    assert.equal(exists(an), exists(bn) ?? exists(an));
    const last = await a.cmd('a3', 'FETCH * (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    assert.ok(last.some((l) => l.includes('Subject: m42')), last.join('\n'));
  });

  it('tells an IDLE session of a delivery within a second', async () => {
    const c = await session();
    const sel = await c.cmd('i1', 'SELECT INBOX');
    const before = Number(/^\* (\d+) EXISTS$/.exec(sel.find((l) => / EXISTS$/.test(l))!)![1]);
    c.write('i2 IDLE\r\n');
    assert.match(await c.line(), /^\+ /);
    const t0 = Date.now();
    await srv.deliver('s@example.com', msg(7));
    const line = await c.waitFor(/ EXISTS$/, 1000);
    assert.equal(line, `* ${before + 1} EXISTS`);
    assert.ok(Date.now() - t0 < 1000);
    // A flag change by another session arrives too.
    const other = await session();
    await other.cmd('o1', 'SELECT INBOX');
    await other.cmd('o2', `STORE ${before + 1} +FLAGS (\\Answered)`);
    assert.match(await c.waitFor(/ FETCH /, 1000), new RegExp(`^\\* ${before + 1} FETCH \\(FLAGS \\(\\\\Answered( \\\\Recent)?\\)\\)$`));
    c.write('DONE\r\n');
    assert.match((await c.until('i2')).at(-1)!, /^i2 OK/);
  });

  it('CONDSTORE: UNCHANGEDSINCE loses to a newer change; QRESYNC reports VANISHED (EARLIER)', async () => {
    const a = await session();
    const b = await session();
    await a.cmd('a0', 'ENABLE QRESYNC');
    const sel = await a.cmd('a1', 'SELECT INBOX');
    const validity = Number(/UIDVALIDITY (\d+)/.exec(sel.join(' '))![1]);
    const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(sel.join(' '))![1]);
    await b.cmd('b1', 'SELECT INBOX');
    const uids = [...(await seqToUid(b, 'b2')).values()];
    // B changes the first message; A's conditional store on it must fail with MODIFIED.
    await b.cmd('b3', `UID STORE ${uids[0]} +FLAGS ($Seen1)`);
    const r = await a.cmd('a2', `UID STORE ${uids[0]} (UNCHANGEDSINCE ${modseq}) +FLAGS ($Other)`);
    assert.match(r.at(-1)!, new RegExp(`^a2 OK \\[MODIFIED ${uids[0]}\\]`), r.join('\n'));
    // B expunges the second message; A leaves and comes back with what it knew.
    await b.cmd('b4', `UID STORE ${uids[1]} +FLAGS.SILENT (\\Deleted)`);
    await b.cmd('b5', 'EXPUNGE');
    await a.cmd('a3', 'UNSELECT');
    const back = await a.cmd('a4', `SELECT INBOX (QRESYNC (${validity} ${modseq} 1:*))`);
    assert.ok(back.includes(`* VANISHED (EARLIER) ${uids[1]}`), back.join('\n'));
    assert.ok(back.some((l) => new RegExp(`FETCH \\(UID ${uids[0]} FLAGS \\([^)]*\\$Seen1[^)]*\\) MODSEQ \\(\\d+\\)\\)`).test(l)), back.join('\n'));
    // UID FETCH with CHANGEDSINCE and VANISHED does the same within a session.
    const f = await a.cmd('a5', `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`);
    assert.ok(f.includes(`* VANISHED (EARLIER) ${uids[1]}`), f.join('\n'));
    // Further expunges by B reach A as VANISHED, not EXPUNGE.
    await b.cmd('b6', `UID STORE ${uids[2]} +FLAGS.SILENT (\\Deleted)`);
    await b.cmd('b7', 'EXPUNGE');
    const n = await a.cmd('a6', 'NOOP');
    assert.ok(n.includes(`* VANISHED ${uids[2]}`), n.join('\n'));
  });

  it('closes a session whose selected mailbox another session deleted', async () => {
    const a = await session();
    const b = await session();
    await b.cmd('b1', 'CREATE Doomed');
    assert.match((await a.cmd('a1', 'SELECT Doomed')).at(-1)!, /^a1 OK/);
    assert.match((await b.cmd('b2', 'DELETE Doomed')).at(-1)!, /^b2 OK/);
    a.write('a2 NOOP\r\n');
    assert.match(await a.waitFor(/^\* BYE/), /deleted/);
    assert.ok(await a.closedWithin(2000));
  });
});
