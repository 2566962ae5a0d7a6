/**
 * LIST in its forms (RFC 3501 6.3.8-9, RFC 5258 LIST-EXTENDED, RFC 5819
 * LIST-STATUS, RFC 6154 SPECIAL-USE, RFC 3348 CHILDREN) over a small hierarchy.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawImap } from '../../src/imap/testing/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('IMAP LIST', () => {
  let srv: TestServer;
  let c: RawImap;
  const list = async (args: string) => (await c.cmd('L', args)).filter((l) => l.startsWith('* ')).sort();

  before(async () => {
    srv = await startTestServer({}, { services: ['imap'] });
    await srv.addUser('l@example.com', 'pw');
    c = await RawImap.connect(srv.port('imap'));
    await c.cmd('a', 'LOGIN l@example.com pw');
    for (const name of ['Work/2024/Q1', 'Work/2023', 'Lists/ietf', 'Archive2']) await c.cmd('c', `CREATE "${name}"`);
    await c.cmd('d', 'DELETE Lists'); // "Lists" stays as a parent that does not exist
    await c.cmd('s1', 'SUBSCRIBE Work/2024');
    await c.cmd('s2', 'SUBSCRIBE Gone/Away'); // subscribed, never created
  });

  after(async () => {
    c?.close();
    await srv?.stop();
  });

  it('lists one level with % and shows non-existent parents as \\Noselect', async () => {
    assert.deepEqual(await list('LIST "" %'), [
      '* LIST (\\HasChildren) "/" "Work"',
      '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
      '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
      '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
      '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
      '* LIST (\\HasNoChildren) "/" "Archive2"',
      '* LIST (\\HasNoChildren) "/" "INBOX"',
      '* LIST (\\Noselect \\HasChildren) "/" "Lists"',
    ].sort());
  });

  it('answers the delimiter query', async () => {
    assert.deepEqual(await list('LIST "" ""'), ['* LIST (\\Noselect) "/" ""']);
  });

  it('takes a reference and several patterns', async () => {
    assert.deepEqual(await list('LIST "Work/" *'), ['* LIST (\\HasChildren) "/" "Work/2024"', '* LIST (\\HasNoChildren) "/" "Work/2023"', '* LIST (\\HasNoChildren) "/" "Work/2024/Q1"'].sort());
    assert.deepEqual(await list('LIST "" (INBOX Sent)'), ['* LIST (\\HasNoChildren \\Sent) "/" "Sent"', '* LIST (\\HasNoChildren) "/" "INBOX"'].sort());
  });

  it('selects subscribed names, existing or not (LIST-EXTENDED)', async () => {
    // New users are subscribed to their default folders; look at the rest.
    const mine = async (args: string) => (await list(args)).filter((l) => /"(Work|Gone)/.test(l));
    assert.ok((await list('LIST (SUBSCRIBED) "" *')).includes('* LIST (\\HasNoChildren \\Subscribed \\Sent) "/" "Sent"'));
    assert.deepEqual(await mine('LIST (SUBSCRIBED) "" *'), ['* LIST (\\HasChildren \\Subscribed) "/" "Work/2024"', '* LIST (\\NonExistent \\Subscribed) "/" "Gone/Away"'].sort());
    assert.deepEqual(await mine('LIST (SUBSCRIBED RECURSIVEMATCH) "" %'), [
      '* LIST (\\HasChildren) "/" "Work" ("CHILDINFO" ("SUBSCRIBED"))',
      '* LIST (\\NonExistent) "/" "Gone" ("CHILDINFO" ("SUBSCRIBED"))',
    ].sort());
    assert.deepEqual(await mine('LSUB "" *'), ['* LSUB () "/" "Gone/Away"', '* LSUB () "/" "Work/2024"'].sort());
    assert.deepEqual(await mine('LSUB "" %'), ['* LSUB (\\Noselect) "/" "Gone"', '* LSUB (\\Noselect) "/" "Work"'].sort());
  });

  it('returns special-use, children and status (LIST-STATUS)', async () => {
    assert.deepEqual(await list('LIST (SPECIAL-USE) "" * RETURN (SPECIAL-USE)'), [
      '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
      '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
      '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
      '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
    ].sort());
    const withStatus = await list('LIST "" INBOX RETURN (CHILDREN STATUS (MESSAGES UIDNEXT))');
    assert.deepEqual(withStatus, ['* LIST (\\HasNoChildren) "/" "INBOX"', '* STATUS "INBOX" (MESSAGES 0 UIDNEXT 1)']);
  });

  it('refuses bad LIST syntax', async () => {
    for (const bad of ['LIST', 'LIST ""', 'LIST (BOGUS) "" *', 'LIST (RECURSIVEMATCH) "" *', 'LIST "" * RETURN (BOGUS)', 'LIST "" * EXTRA']) {
      assert.match((await c.cmd('b', bad)).at(-1)!, /^b BAD/, bad);
    }
  });
});
