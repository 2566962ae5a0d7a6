/**
 * Real IMAP clients from Debian against mailroom: mbsync (isync) syncing a
 * mailbox both ways, mutt reading a folder, curl over imap:// (plain and
 * STARTTLS) and imaps://.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const have = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const skipUnless = (bin: string) => (!have(bin) && process.env.CI !== 'true' ? `${bin} is not installed (CI=true would fail instead)` : false);

const msg = (n: number) =>
  `From: Bob <bob@example.com>\r\nTo: c@example.com\r\nSubject: client test ${n}\r\nDate: Mon, 1 Jan 2024 10:0${n}:00 +0000\r\nMessage-ID: <client${n}@example.com>\r\n\r\nHello from message ${n}.\r\n`;

describe('IMAP with real clients', () => {
  let srv: TestServer;
  let dir: string;
  let user: { id: number };

  const files = (d: string) => (existsSync(d) ? readdirSync(d) : []);

  before(async () => {
    srv = await startTestServer({}, { services: ['imap'] });
    user = await srv.addUser('c@example.com', 'pw');
    for (let i = 1; i <= 3; i++) await srv.deliver('c@example.com', msg(i));
    dir = mkdtempSync(join(tmpdir(), 'imap-clients-'));
    writeFileSync(join(dir, 'ca.pem'), srv.tls.cert);
  });

  after(async () => {
    await srv?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('curl reads over imap://, STARTTLS and imaps://', { skip: skipUnless('curl') }, async () => {
    const port = srv.port('imap');
    const tls = srv.port('imap', 'implicit');
    const auth = ['-u', 'c@example.com:pw', '-sS'];
    const list = await run('curl', [...auth, `imap://127.0.0.1:${port}/`]);
    assert.match(list.stdout, /\* LIST \(\\HasNoChildren\) "\/" "INBOX"/);
    const one = await run('curl', [...auth, `imap://127.0.0.1:${port}/INBOX;UID=2`]);
    assert.equal(one.stdout, msg(2).replace(/\r\n/g, '\r\n'));
    const search = await run('curl', [...auth, `imap://127.0.0.1:${port}/INBOX?SUBJECT%20%22client%20test%203%22`]);
    assert.match(search.stdout, /^\* SEARCH 3\r?\n$/);
    const tlsArgs = ['--cacert', join(dir, 'ca.pem'), '--resolve', `mail.test:${tls}:127.0.0.1`, '--resolve', `mail.test:${port}:127.0.0.1`];
    const imaps = await run('curl', [...auth, ...tlsArgs, `imaps://mail.test:${tls}/INBOX;UID=1/;SECTION=HEADER.FIELDS%20(SUBJECT)`]);
    assert.equal(imaps.stdout, 'Subject: client test 1\r\n\r\n');
    const starttls = await run('curl', [...auth, ...tlsArgs, '--ssl-reqd', `imap://mail.test:${port}/INBOX`, '-X', 'EXAMINE INBOX']);
    assert.match(starttls.stdout, /\* 3 EXISTS/);
  });

  it('mutt opens a folder and reads a message', { skip: skipUnless('mutt') || skipUnless('script') }, async () => {
    const rc = join(dir, 'muttrc');
    const out = join(dir, 'mutt-out.txt');
    writeFileSync(
      rc,
      [
        'set imap_user="c@example.com"',
        'set imap_pass="pw"',
        'set ssl_starttls=no',
        'set ssl_force_tls=no',
        'set header_cache=""',
        'set wait_key=no',
        'set quit=yes',
        'set move=no',
        'set timeout=5',
        '',
      ].join('\n'),
    );
    const push = `push "<first-entry><pipe-message>cat > ${out}<enter><exit>"`;
    const cmd = `TERM=vt100 mutt -n -F ${rc} -f imap://127.0.0.1:${srv.port('imap')}/INBOX -e '${push}'`;
    const r = await run('script', ['-qc', cmd, '/dev/null'], { timeout: 20_000 });
    assert.match(r.stdout, /Msgs:3/);
    assert.equal(readFileSync(out, 'utf8').replace(/\r\n/g, '\n'), msg(1).replace(/\r\n/g, '\n'));
  });

  it('mbsync syncs a mailbox both ways', { skip: skipUnless('mbsync') }, async () => {
    const mail = join(dir, 'Maildir');
    mkdirSync(mail, { recursive: true });
    const rc = join(dir, 'mbsyncrc');
    writeFileSync(
      rc,
      [
        'IMAPAccount mr',
        'Host 127.0.0.1',
        `Port ${srv.port('imap')}`,
        'User c@example.com',
        'Pass pw',
        'SSLType None',
        'AuthMechs LOGIN',
        '',
        'IMAPStore remote',
        'Account mr',
        '',
        'MaildirStore local',
        `Path ${mail}/`,
        `Inbox ${mail}/INBOX`,
        'SubFolders Verbatim',
        '',
        'Channel sync',
        'Far :remote:',
        'Near :local:',
        'Patterns *',
        'Create Both',
        'Remove Both',
        'Expunge Both',
        'SyncState *',
        '',
      ].join('\n'),
    );
    const sync = () => run('mbsync', ['-c', rc, 'sync'], { timeout: 30_000 });
    await sync();
    // Far to near: every message and every folder.
    const inbox = join(mail, 'INBOX');
    assert.equal(files(join(inbox, 'new')).length + files(join(inbox, 'cur')).length, 3);
    for (const f of ['Sent', 'Drafts', 'Trash', 'Junk']) assert.ok(existsSync(join(mail, f)), f);

    // Near to far: a new message, a new folder with a message, a flag change, a deletion.
    writeFileSync(join(inbox, 'new', 'local1.host'), 'From: me@example.com\r\nSubject: written offline\r\n\r\nlocal body\r\n');
    mkdirSync(join(mail, 'Local', 'Stuff', 'new'), { recursive: true });
    mkdirSync(join(mail, 'Local', 'Stuff', 'cur'), { recursive: true });
    mkdirSync(join(mail, 'Local', 'Stuff', 'tmp'), { recursive: true });
    writeFileSync(join(mail, 'Local', 'Stuff', 'new', 'local2.host'), 'Subject: in a new folder\r\n\r\nx\r\n');
    const all = [...files(join(inbox, 'new')).map((f) => join(inbox, 'new', f)), ...files(join(inbox, 'cur')).map((f) => join(inbox, 'cur', f))];
    const byUid = (u: number) => all.find((f) => f.includes(`,U=${u}:`))!;
    renameSync(byUid(2), join(inbox, 'cur', byUid(2).split('/').pop()!.replace(/:2,.*$/, ':2,FS')));
    renameSync(byUid(1), join(inbox, 'cur', byUid(1).split('/').pop()!.replace(/:2,.*$/, ':2,T')));
    await new Promise((r) => setTimeout(r, 1100)); // mbsync waits out same-second Maildir changes anyway
    await sync();

    const box = (await srv.store.getMailbox(user.id, 'INBOX'))!;
    const metas = await srv.store.listMessages(box.id);
    assert.deepEqual(
      metas.map((m) => m.uid),
      [2, 3, 4],
      'UID 1 expunged, the offline message appended',
    );
    assert.ok(metas[0]!.flags.includes('\\Flagged') && metas[0]!.flags.includes('\\Seen'), JSON.stringify(metas[0]));
    const stuff = await srv.store.getMailbox(user.id, 'Local/Stuff');
    assert.ok(stuff, 'folder created on the server');
    assert.equal((await srv.store.mailboxStatus(stuff.id)).messages, 1);

    // And back: a message delivered on the server arrives locally.
    await srv.deliver('c@example.com', msg(9));
    await sync();
    const local = [...files(join(inbox, 'new')), ...files(join(inbox, 'cur'))];
    assert.equal(local.length, 4, local.join(' '));
  });
});
