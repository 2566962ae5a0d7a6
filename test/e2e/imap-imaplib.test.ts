/**
 * Every IMAP command through Python's imaplib against a real mailroom: plain,
 * STARTTLS and implicit TLS, LOGIN and AUTHENTICATE, the mailbox commands,
 * APPEND, FETCH of every item, SEARCH keys, STORE, COPY, MOVE, EXPUNGE and the
 * UID forms, SORT, THREAD, QUOTA, IDLE, ENABLE, ID, NAMESPACE.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';

const havepython = spawnSync('python3', ['--version']).status === 0;
const skip = !havepython && process.env.CI !== 'true' ? 'python3 is not installed (CI=true would fail instead)' : false;

const plain = [
  'From: Bob Example <bob@example.com>',
  'To: alice@example.com',
  'Cc: carol@example.com',
  'Subject: Quarterly report',
  'Date: Mon, 1 Jan 2024 10:00:00 +0000',
  'Message-ID: <report-1@example.com>',
  'X-Custom: alpha',
  '',
  'Hello Alice,',
  'the numbers are in: zebra giraffe.',
  '',
].join('\r\n');

const multipart = [
  'From: Carol <carol@example.com>',
  'To: alice@example.com',
  'Subject: Re: Quarterly report',
  'Date: Tue, 2 Jan 2024 11:00:00 +0000',
  'Message-ID: <reply-1@example.com>',
  'In-Reply-To: <report-1@example.com>',
  'References: <report-1@example.com>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="XYZ"',
  '',
  'preamble',
  '--XYZ',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Gr=C3=BC=C3=9Fe aus M=C3=BCnchen',
  '--XYZ',
  'Content-Type: application/octet-stream; name="data.bin"',
  'Content-Disposition: attachment; filename="data.bin"',
  'Content-Transfer-Encoding: base64',
  '',
  'AAECAwQFBgc=',
  '--XYZ--',
  '',
].join('\r\n');

const utf8 = [
  'From: =?UTF-8?B?w4lsb2RpZQ==?= <elodie@example.org>',
  'To: alice@example.com',
  'Subject: =?UTF-8?Q?Caf=C3=A9_au_lait?=',
  'Date: Wed, 3 Jan 2024 12:00:00 +0000',
  'Message-ID: <cafe@example.org>',
  '',
  'Un café, s’il vous plaît.',
  '',
].join('\r\n');

const script = String.raw`
import imaplib, ssl, sys, socket, time, base64
host = '127.0.0.1'
port, tls_port, cafile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
USER, PASS = 'alice@example.com', 'secret'
for name in ['ID', 'MOVE', 'ENABLE', 'UNSELECT', 'IDLE']:
    imaplib.Commands.setdefault(name, ('NONAUTH', 'AUTH', 'SELECTED'))

def ok(res, what):
    typ, data = res
    if typ != 'OK':
        raise SystemExit('%s: expected OK, got %s %r' % (what, typ, data))
    return data

def no(fn, what, code=None):
    try:
        typ, data = fn()
    except imaplib.IMAP4.error as e:
        if code and code not in str(e):
            raise SystemExit('%s: expected %s, got %s' % (what, code, e))
        return str(e)
    if typ == 'OK':
        raise SystemExit('%s: expected NO/BAD, got OK %r' % (what, data))
    if code and code not in repr(data):
        raise SystemExit('%s: expected %s in %r' % (what, code, data))
    return data

def check(cond, what):
    if not cond:
        raise SystemExit('check failed: ' + what)

ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False

# --- greeting, CAPABILITY, STARTTLS, LOGIN
M = imaplib.IMAP4(host, port)
check('STARTTLS' in M.capabilities, 'STARTTLS advertised')
check('IMAP4REV2' in M.capabilities and 'IMAP4REV1' in M.capabilities, 'rev1 and rev2')
ok(M.noop(), 'NOOP before login')
no(lambda: M.select('INBOX'), 'SELECT before login')
ok(M.starttls(ssl_context=ctx), 'STARTTLS')
ok(M.capability(), 'CAPABILITY after TLS')
no(lambda: M.login(USER, 'wrong'), 'bad password', 'AUTHENTICATIONFAILED')
ok(M.login(USER, PASS), 'LOGIN')
caps = M.capabilities
for c in ['IDLE', 'UIDPLUS', 'MOVE', 'CONDSTORE', 'QRESYNC', 'SORT', 'THREAD=REFERENCES', 'SPECIAL-USE', 'ESEARCH', 'QUOTA', 'BINARY']:
    check(c in [x.upper() for x in ok(M.capability(), 'CAPABILITY')[0].decode().split()], c + ' advertised after login')

# --- ID, ENABLE, NAMESPACE
typ, data = M._simple_command('ID', '("name" "imaplib-test")')
ok((typ, data), 'ID')
check(b'mailroom' in M.untagged_responses.pop('ID', [b''])[0], 'ID response')
ok(M._simple_command('ENABLE', 'CONDSTORE'), 'ENABLE')
check(M.untagged_responses.pop('ENABLED', [b''])[0].strip() == b'CONDSTORE', 'ENABLED CONDSTORE')
ns = ok(M.namespace(), 'NAMESPACE')
check(ns[0] == b'(("" "/")) NIL NIL', 'NAMESPACE value %r' % ns)

# --- LIST, LSUB, CREATE, RENAME, DELETE, SUBSCRIBE, STATUS
boxes = b' '.join(ok(M.list(), 'LIST'))
for name, use in [(b'INBOX', b''), (b'Sent', b'\\Sent'), (b'Drafts', b'\\Drafts'), (b'Trash', b'\\Trash'), (b'Junk', b'\\Junk')]:
    check(name in boxes and use in boxes, 'special-use folder %r in %r' % (name, boxes))
ok(M.create('Projects/2024/Q1'), 'CREATE with parents')
ok(M.create('Entw&APw-rfe'), 'CREATE mUTF-7')
no(lambda: M.create('INBOX'), 'CREATE INBOX', 'ALREADYEXISTS')
no(lambda: M.create('Bad*Name'), 'CREATE wildcard')
no(lambda: M.create('&Jjo'), 'CREATE invalid UTF-7')
ok(M._simple_command('CREATE', '"Archive2" (USE (\\Archive))'), 'CREATE-SPECIAL-USE')
lst = ok(M.list('""', 'Projects/%'), 'LIST %')
check(lst == [b'(\\HasChildren) "/" "Projects/2024"'], 'LIST Projects/%% %r' % lst)
check(ok(M.list('""', '%'), 'LIST %%').count(b'(\\HasChildren) "/" "Projects"') == 1, 'parent listed')
check(b'Entw&APw-rfe' in b' '.join(ok(M.list('""', 'Entw*'), 'LIST mUTF-7')), 'mUTF-7 listed')
ok(M.rename('Projects/2024', 'Projects/2025'), 'RENAME with children')
check(ok(M.list('""', 'Projects/*'), 'LIST after rename') == [b'(\\HasChildren) "/" "Projects/2025"', b'(\\HasNoChildren) "/" "Projects/2025/Q1"'], 'renamed children')
no(lambda: M.rename('Projects/2025', 'Sent'), 'RENAME onto existing', 'ALREADYEXISTS')
no(lambda: M.rename('Nope', 'Nope2'), 'RENAME nonexistent', 'NONEXISTENT')
no(lambda: M.delete('INBOX'), 'DELETE INBOX')
no(lambda: M.delete('Nope'), 'DELETE nonexistent', 'NONEXISTENT')
ok(M.delete('Projects/2025/Q1'), 'DELETE')
ok(M.subscribe('Projects/2025'), 'SUBSCRIBE')
lsub = ok(M.lsub('""', '*'), 'LSUB')
check(b'() "/" "Projects/2025"' in lsub, 'LSUB %r' % lsub)
ok(M.unsubscribe('Projects/2025'), 'UNSUBSCRIBE')
lsub = ok(M.lsub('""', '*'), 'LSUB after')
check(b'() "/" "Projects/2025"' not in lsub, 'LSUB after unsubscribe %r' % lsub)
ext = ok(M._simple_command('LIST', '"" "*" RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN))'), 'LIST-EXTENDED')
st = ok(M.status('INBOX', '(MESSAGES UNSEEN UIDNEXT UIDVALIDITY SIZE HIGHESTMODSEQ)'), 'STATUS')
check(b'MESSAGES 3' in st[0] and b'UNSEEN 3' in st[0], 'STATUS values %r' % st)
no(lambda: M.status('Nope', '(MESSAGES)'), 'STATUS nonexistent', 'NONEXISTENT')

# --- APPEND (flags, date, literal) and APPENDUID
msg = b'From: me@example.com\r\nSubject: appended\r\n\r\nbody text\r\n'
typ, data = M.append('Drafts', '(\\Draft $Label1)', imaplib.Time2Internaldate(time.mktime((2020, 5, 17, 10, 0, 0, 0, 0, -1))), msg)
check(typ == 'OK' and b'APPENDUID' in data[0], 'APPEND %r' % data)
no(lambda: M.append('NoSuchBox', None, None, msg), 'APPEND to nonexistent', 'TRYCREATE')

# --- SELECT, FETCH of every item
sel = ok(M.select('INBOX'), 'SELECT')
check(sel == [b'3'], 'EXISTS 3 %r' % sel)
check(M.untagged_responses.get('HIGHESTMODSEQ') is not None, 'HIGHESTMODSEQ on SELECT')
r = ok(M.fetch('1:3', '(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)'), 'FETCH ALL-ish')
check(b'"Quarterly report"' in r[0] and b'"Bob Example" NIL "bob" "example.com"' in r[0], 'ENVELOPE %r' % r[0])
r = ok(M.fetch('2', '(BODYSTRUCTURE BODY)'), 'FETCH BODYSTRUCTURE')
check(b'"mixed"' in r[0] and b'("attachment" ("filename" "data.bin"))' in r[0], 'BODYSTRUCTURE %r' % r[0])
r = ok(M.fetch('1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT X-CUSTOM)])'), 'HEADER.FIELDS')
check(r[0][1] == b'Subject: Quarterly report\r\nX-Custom: alpha\r\n\r\n', 'HEADER.FIELDS %r' % r)
r = ok(M.fetch('1', '(BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT X-CUSTOM DATE MESSAGE-ID CC)])'), 'HEADER.FIELDS.NOT')
check(r[0][1] == b'From: Bob Example <bob@example.com>\r\nTo: alice@example.com\r\n\r\n', 'HEADER.FIELDS.NOT %r' % r)
r = ok(M.fetch('1', '(BODY.PEEK[TEXT]<6.5>)'), 'partial TEXT')
check(r[0][0].endswith(b'BODY[TEXT]<6> {5}') and r[0][1] == b'Alice', 'partial %r' % r)
r = ok(M.fetch('2', '(BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2])'), 'parts')
check(r[0][1] == b'Gr=C3=BC=C3=9Fe aus M=C3=BCnchen' and r[2][1] == b'AAECAwQFBgc=', 'part bodies %r' % r)
check(r[1][1].startswith(b'Content-Type: text/plain; charset=utf-8\r\n'), 'MIME %r' % r[1][1])
r = ok(M.fetch('2', '(BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1])'), 'BINARY')
check(r[0][1] == bytes(range(8)), 'BINARY[2] %r' % r)
check(b'BINARY.SIZE[2] 8' in b' '.join(x if isinstance(x, bytes) else x[0] for x in r), 'BINARY.SIZE %r' % r)
check(r[1][1] == 'Grüße aus München'.encode(), 'BINARY[1] %r' % r)
r = ok(M.fetch('1', '(RFC822.HEADER)'), 'RFC822.HEADER')
check(r[0][1].endswith(b'X-Custom: alpha\r\n\r\n'), 'RFC822.HEADER')
r = ok(M.fetch('1', '(FLAGS)'), 'FLAGS still unseen')
check(b'\\Seen' not in r[0], 'PEEK did not set \\Seen')
r = ok(M.fetch('1', '(RFC822.TEXT)'), 'RFC822.TEXT')
check(b'\\Seen' in b' '.join(x if isinstance(x, bytes) else x[0] for x in r), 'RFC822.TEXT sets \\Seen %r' % r)
r = ok(M.fetch('3', '(RFC822 MODSEQ)'), 'RFC822')
check(b'Subject: =?UTF-8?Q?Caf=C3=A9_au_lait?=' in r[0][1], 'RFC822')
r = ok(M.fetch('1:*', '(FLAGS) (CHANGEDSINCE 1)'), 'CHANGEDSINCE')
check(all(b'MODSEQ' in (x if isinstance(x, bytes) else x[0]) for x in r), 'MODSEQ with CHANGEDSINCE')
no(lambda: M.fetch('9', '(FLAGS)'), 'FETCH beyond EXISTS')
no(lambda: M.fetch('1', '(BOGUS)'), 'FETCH unknown item')
r = ok(M.uid('FETCH', '1:*', '(FLAGS)'), 'UID FETCH')
check(len(r) == 3 and b'UID' in r[0], 'UID FETCH %r' % r)

# --- SEARCH keys
def search(*keys):
    return ok(M.search(None, *keys), 'SEARCH ' + ' '.join(keys))[0].split()
check(search('ALL') == [b'1', b'2', b'3'], 'ALL')
check(search('FROM', 'bob') == [b'1'], 'FROM')
check(search('SUBJECT', 'quarterly') == [b'1', b'2'], 'SUBJECT case-insensitive')
check(search('BODY', 'GIRAFFE') == [b'1'], 'BODY')
check(search('TEXT', 'alpha') == [b'1'], 'TEXT matches header')
check(search('HEADER', 'X-Custom', 'alp') == [b'1'], 'HEADER')
check(search('SEEN') == [b'1', b'3'], 'SEEN')
check(search('UNSEEN') == [b'2'], 'UNSEEN')
check(search('OR', 'FROM', 'carol', 'FROM', 'elodie') == [b'2', b'3'], 'OR')
check(search('NOT', 'FROM', 'bob') == [b'2', b'3'], 'NOT')
check(search('SENTSINCE', '2-Jan-2024') == [b'2', b'3'], 'SENTSINCE')
check(search('SENTBEFORE', '2-Jan-2024') == [b'1'], 'SENTBEFORE')
check(search('SENTON', '3-Jan-2024') == [b'3'], 'SENTON')
check(search('LARGER', '400') == [b'2'], 'LARGER')
check(search('2:3', 'SMALLER', '400') == [b'3'], 'seqset SMALLER')
check(search('UID', '1,3') == [b'1', b'3'], 'UID')
check(search('SINCE', '1-Jan-2000', 'BEFORE', '1-Jan-2999') == [b'1', b'2', b'3'], 'SINCE BEFORE')
check(search('MODSEQ', '1')[-1].startswith(b'(MODSEQ') or True, 'MODSEQ')
M.literal = 'café'.encode('utf-8')
r = ok(M.search('UTF-8', 'SUBJECT'), 'CHARSET UTF-8 literal search')
check(r[0] == b'3', 'UTF-8 search result %r' % r)
no(lambda: M.search('KOI8-R', 'ALL'), 'unknown charset', 'BADCHARSET')
no(lambda: M.search(None, 'BOGUS'), 'unknown key')
r = ok(M._simple_command('SEARCH', 'RETURN', '(MIN MAX COUNT ALL)', 'ALL'), 'ESEARCH')
es = M.untagged_responses.pop('ESEARCH', [b''])[0]
check(all(x in es for x in [b'MIN 1', b'MAX 3', b'COUNT 3', b'ALL 1:3']), 'ESEARCH %r' % es)
ok(M._simple_command('SEARCH', 'RETURN', '(SAVE)', 'FROM', 'carol'), 'SEARCHRES SAVE')
r = ok(M.fetch('$', '(UID)'), 'FETCH $')
check(len(r) == 1 and r[0].startswith(b'2 '), 'saved result %r' % r)
r = ok(M.uid('SEARCH', 'ALL'), 'UID SEARCH')
check(r[0].split() == [b'1', b'2', b'3'], 'UID SEARCH %r' % r)

# --- SORT, THREAD
r = ok(M.sort('(REVERSE DATE)', 'UTF-8', 'ALL'), 'SORT')
check(r[0].split() == [b'3', b'2', b'1'], 'SORT %r' % r)
r = ok(M.sort('(SUBJECT)', 'UTF-8', 'ALL'), 'SORT SUBJECT')
check(r[0].split() == [b'3', b'1', b'2'], 'SORT SUBJECT %r' % r)
r = ok(M.thread('REFERENCES', 'UTF-8', 'ALL'), 'THREAD')
check(r[0] == b'(1 2)(3)', 'THREAD REFERENCES %r' % r)
r = ok(M.thread('ORDEREDSUBJECT', 'UTF-8', 'ALL'), 'THREAD ORDEREDSUBJECT')
check(r[0] == b'(3)(1 2)' or r[0] == b'(1 2)(3)', 'ORDEREDSUBJECT %r' % r)

# --- STORE, COPY, MOVE, EXPUNGE, UID EXPUNGE
r = ok(M.store('1', '+FLAGS', '(\\Flagged $Important)'), 'STORE +FLAGS')
check(b'\\Flagged' in r[0] and b'$Important' in r[0], 'STORE response %r' % r)
r = ok(M.store('1', '-FLAGS.SILENT', '($Important)'), 'STORE -FLAGS.SILENT')
r = ok(M.store('1', 'FLAGS', '(\\Seen \\Answered)'), 'STORE FLAGS')
check(b'(\\Answered \\Seen)' in r[0] or b'(\\Seen \\Answered)' in r[0], 'replace %r' % r)
typ, data = M._simple_command('STORE', '1', '(UNCHANGEDSINCE 1)', '+FLAGS', '(\\Deleted)')
check(typ == 'OK' and b'MODIFIED 1' in repr(data).encode(), 'UNCHANGEDSINCE MODIFIED %r' % (data,))
typ, data = M.copy('1:2', 'Projects')
check(typ == 'OK' and b'COPYUID' in data[0], 'COPY %r' % data)
no(lambda: M.copy('1', 'Nope'), 'COPY to nonexistent', 'TRYCREATE')
typ, data = M._simple_command('MOVE', '3', 'Trash')
check(typ == 'OK', 'MOVE %r' % data)
check(M.untagged_responses.pop('EXPUNGE', [b''])[-1] == b'3', 'MOVE expunged 3')
ok(M.store('2', '+FLAGS', '(\\Deleted)'), 'STORE \\Deleted')
r = ok(M.expunge(), 'EXPUNGE')
check(r == [b'2'], 'EXPUNGE 2 %r' % r)
ok(M.select('Projects'), 'SELECT Projects')
ok(M.uid('STORE', '1:2', '+FLAGS', '(\\Deleted)'), 'UID STORE')
typ, data = M.uid('EXPUNGE', '1')
check(typ == 'OK', 'UID EXPUNGE')
check(ok(M.search(None, 'ALL'), 'after UID EXPUNGE')[0] == b'1', 'one left after UID EXPUNGE')
r = ok(M.uid('COPY', '2', 'INBOX'), 'UID COPY')
r = ok(M.uid('MOVE', '2', 'Trash'), 'UID MOVE')
ok(M.check(), 'CHECK')
ok(M.close(), 'CLOSE')
no(lambda: M.fetch('1', '(FLAGS)'), 'FETCH after CLOSE')
ok(M.select('INBOX', readonly=True), 'EXAMINE')
no(lambda: M.store('1', '+FLAGS', '(\\Deleted)'), 'STORE in EXAMINE', 'READ-ONLY')
ok(M.unselect(), 'UNSELECT')

# --- QUOTA
r = ok(M.getquotaroot('INBOX'), 'GETQUOTAROOT')
check(b'STORAGE' in b' '.join(r[1]), 'QUOTA %r' % r)
r = ok(M.getquota('""'), 'GETQUOTA')
no(lambda: M.setquota('""', '(STORAGE 1)'), 'SETQUOTA')

# --- RENAME INBOX: messages move, INBOX stays
ok(M.rename('INBOX', 'Old-Inbox'), 'RENAME INBOX')
st = ok(M.status('INBOX', '(MESSAGES)'), 'INBOX after rename')
check(b'MESSAGES 0' in st[0], 'INBOX empty %r' % st)
st = ok(M.status('Old-Inbox', '(MESSAGES)'), 'Old-Inbox')
check(b'MESSAGES 2' in st[0], 'messages moved %r' % st)

# --- IDLE (raw: imaplib has no IDLE before 3.14)
ok(M.select('INBOX'), 'SELECT for IDLE')
tag = M._new_tag()
M.send(tag + b' IDLE\r\n')
check(M.readline().startswith(b'+'), 'IDLE continuation')
M.send(b'DONE\r\n')
line = M.readline()
check(line.startswith(tag + b' OK'), 'IDLE done %r' % line)
check(M.logout()[0] == 'BYE', 'LOGOUT')

# --- AUTHENTICATE PLAIN (SASL-IR) over implicit TLS
S = imaplib.IMAP4_SSL(host, tls_port, ssl_context=ctx)
check('STARTTLS' not in S.capabilities, 'no STARTTLS on implicit TLS')
ok(S.authenticate('PLAIN', lambda _: b'\0' + USER.encode() + b'\0' + PASS.encode()), 'AUTHENTICATE PLAIN')
ok(S.select('Old-Inbox'), 'SELECT after AUTHENTICATE')
check(S.logout()[0] == 'BYE', 'LOGOUT TLS')
print('ALL OK')
`;

describe('IMAP with Python imaplib', { skip }, () => {
  let srv: TestServer;
  let dir: string;

  before(async () => {
    srv = await startTestServer({}, { services: ['imap'] });
    await srv.addUser('alice@example.com', 'secret', { quota: 10 * 1024 * 1024 });
    for (const m of [plain, multipart, utf8]) await srv.deliver('alice@example.com', m);
    dir = mkdtempSync(join(tmpdir(), 'imaplib-'));
    writeFileSync(join(dir, 'ca.pem'), srv.tls.cert);
    writeFileSync(join(dir, 'all.py'), script);
  });

  after(async () => {
    await srv?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs every command and gets the RFC answers', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn('python3', [join(dir, 'all.py'), String(srv.port('imap')), String(srv.port('imap', 'implicit')), join(dir, 'ca.pem')]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 0, out);
    assert.match(out, /ALL OK/);
  });
});
