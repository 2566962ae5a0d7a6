/**
 * Dovecot as the oracle: the same messages go into a Maildir read by Dovecot's
 * own imap binary (pre-authenticated on stdin/stdout, no daemon), and its
 * BODYSTRUCTURE, ENVELOPE and BODY[section] sizes must equal what our index says.
 *
 * Deliberate differences, allowed here and nowhere else:
 * - Case: we lower-case types, subtypes, encodings and parameter names (the
 *   shared contract); Dovecot repeats them as written.
 * - RFC 2231 parameters: Dovecot passes "name*" on encoded; we decode them.
 * - The line end after a close-delimiter that is followed by an outer boundary
 *   ("--inner--" CRLF "--outer"): Dovecot counts it into the inner entity, we give
 *   it to the outer boundary as RFC 2046 says. A message/rfc822 part whose body
 *   ends with such a close-delimiter is 2 octets and 1 line shorter with us.
 * - Malformed headers (a line that is neither a field nor a continuation): Dovecot
 *   reads on, we end the header there, as Postfix does. Those inputs are not here.
 *
 * Needs /usr/lib/dovecot/imap (Debian's dovecot-imapd, installed by
 * scripts/install-test-deps.sh); skips without it unless CI=true.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { indexMessage } from './index.js';
import { findPart, sectionRange } from './sections.js';
import { toCrlf } from './crlf.js';
import { render, treeArb } from './trees.fixture.js';
import type { BodyPart, ImapAddress, ImapEnvelope, MessageIndex } from './types.js';

const IMAP_BIN = '/usr/lib/dovecot/imap';
const isRoot = process.getuid?.() === 0;
const haveSetpriv = existsSync('/usr/bin/setpriv') || existsSync('/bin/setpriv');
const available = existsSync(IMAP_BIN) && (!isRoot || haveSetpriv);
const skip = !available && process.env.CI !== 'true' ? `${IMAP_BIN}${isRoot ? ' or setpriv' : ''} not installed; CI=true would fail instead` : false;

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mailroom-dovecot-'));
  chmodSync(dir, 0o755); // Dovecot runs as nobody when we are root
});
after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------------ Dovecot

type Sx = null | string | Sx[];

/** One IMAP value (list, quoted string, literal, atom or NIL) at pos.i. */
function parseSx(s: Buffer, pos: { i: number }): Sx {
  while (s[pos.i] === 0x20) pos.i++;
  const c = s[pos.i];
  if (c === 0x28) {
    pos.i++;
    const out: Sx[] = [];
    for (;;) {
      while (s[pos.i] === 0x20) pos.i++;
      if (s[pos.i] === 0x29) {
        pos.i++;
        return out;
      }
      out.push(parseSx(s, pos));
    }
  }
  if (c === 0x22) {
    pos.i++;
    const bytes: number[] = [];
    while (s[pos.i] !== 0x22) {
      if (s[pos.i] === 0x5c) pos.i++;
      bytes.push(s[pos.i++]!);
    }
    pos.i++;
    return Buffer.from(bytes).toString('utf8');
  }
  if (c === 0x7b) {
    const close = s.indexOf(0x7d, pos.i);
    const n = Number(s.toString('latin1', pos.i + 1, close));
    const start = close + 3;
    pos.i = start + n;
    return s.toString('latin1', start, start + n);
  }
  let j = pos.i;
  while (j < s.length && s[j] !== 0x20 && s[j] !== 0x29 && s[j] !== 0x28 && s[j] !== 0x0d) j++;
  const atom = s.toString('latin1', pos.i, j);
  pos.i = j;
  return atom === 'NIL' ? null : atom;
}

/** Runs Dovecot's imap over a fresh Maildir holding `messages`; returns each message's FETCH items, in order. */
function dovecotFetch(messages: Buffer[], items: string): Array<Record<string, Sx>> {
  const home = join(dir, `run-${Date.now()}`);
  const md = join(home, 'Maildir');
  for (const d of ['cur', 'new', 'tmp']) mkdirSync(join(md, d), { recursive: true });
  // Zero-padded names: Dovecot gives UIDs in name order, so UID n is messages[n-1].
  messages.forEach((m, i) => writeFileSync(join(md, 'cur', `${String(1_000_000 + i)}.m:2,`), m));
  const uid = isRoot ? 65534 : process.getuid!();
  const gid = isRoot ? 65534 : process.getgid!();
  const conf = join(home, 'dovecot.conf');
  writeFileSync(
    conf,
    [`base_dir = ${home}/run`, `state_dir = ${home}/state`, 'log_path = /dev/null', `mail_location = maildir:${md}`, 'ssl = no', `mail_uid = ${uid}`, `mail_gid = ${gid}`, 'first_valid_uid = 0', 'first_valid_gid = 0', ''].join('\n'),
  );
  if (isRoot) execFileSync('chown', ['-R', `${uid}:${gid}`, home]);
  const cmd = isRoot ? 'setpriv' : IMAP_BIN;
  const args = isRoot ? [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', IMAP_BIN, '-c', conf] : ['-c', conf];
  const out = execFileSync(cmd, args, {
    input: `a SELECT INBOX\r\nb UID FETCH 1:* (${items})\r\nc LOGOUT\r\n`,
    env: { USER: 'me', HOME: home, MAIL: `maildir:${md}` },
    maxBuffer: 1 << 30,
  });
  const res: Array<Record<string, Sx>> = [];
  for (let i = out.indexOf('* '); i !== -1; i = out.indexOf('\r\n* ', i) === -1 ? -1 : out.indexOf('\r\n* ', i) + 2) {
    const m = /^\* \d+ FETCH /.exec(out.toString('latin1', i, i + 40));
    if (m === null) {
      i++;
      continue;
    }
    const pos = { i: i + m[0].length };
    const list = parseSx(out, pos) as Sx[];
    const rec: Record<string, Sx> = {};
    for (let j = 0; j < list.length; j += 2) rec[String(list[j])] = list[j + 1]!;
    res[Number(rec['UID']) - 1] = rec;
    i = pos.i;
  }
  assert.equal(res.filter(Boolean).length, messages.length, 'Dovecot answered for every message');
  return res;
}

// ------------------------------------------------------------------ comparison

const lc = (s: Sx) => (typeof s === 'string' ? s.toLowerCase() : s);

function pairs(sx: Sx): Array<[string, string]> {
  if (!Array.isArray(sx)) return [];
  const out: Array<[string, string]> = [];
  for (let i = 0; i < sx.length; i += 2) out.push([String(sx[i]).toLowerCase(), String(sx[i + 1])]);
  return out;
}

function sameParams(ours: Array<[string, string]>, dv: Sx, where: string): void {
  const theirs = pairs(dv);
  if (theirs.some(([k]) => k.includes('*'))) return; // RFC 2231: Dovecot leaves it encoded
  assert.deepEqual(ours, theirs, `${where} params`);
}

function sameExtension(p: BodyPart, dsp: Sx, lang: Sx, loc: Sx, where: string): void {
  if (Array.isArray(dsp)) {
    assert.equal(p.disposition?.type, lc(dsp[0]!), `${where} disposition`);
    sameParams(p.disposition!.params, dsp[1]!, `${where} disposition`);
  } else assert.equal(p.disposition, null, `${where} disposition`);
  assert.deepEqual(p.language, lang === null ? null : Array.isArray(lang) ? lang : [lang], `${where} language`);
  assert.equal(p.location, loc, `${where} location`);
}

/** The one allowed size difference (see the header comment): the part ends with the close-delimiter of its multipart. */
function closeDelimiterAtEnd(raw: Buffer, p: BodyPart): boolean {
  const q = p.message ?? p;
  const boundary = q.type === 'multipart' ? q.params.find(([k]) => k === 'boundary')?.[1] : undefined;
  if (boundary === undefined) return false;
  const close = `--${boundary}--`;
  return raw.toString('latin1', p.bodyEnd - close.length, p.bodyEnd) === close && raw.toString('latin1', p.bodyEnd, p.bodyEnd + 4) === '\r\n--';
}

function sameBody(raw: Buffer, p: BodyPart, dv: Sx, where: string): void {
  assert.ok(Array.isArray(dv), `${where}: Dovecot gave no body`);
  if (Array.isArray(dv[0])) {
    let i = 0;
    const kids: Sx[] = [];
    while (Array.isArray(dv[i])) kids.push(dv[i++]!);
    assert.equal(`${p.type}/${p.subtype}`, `multipart/${lc(dv[i++]!)}`, where);
    sameParams(p.params, dv[i++]!, where);
    sameExtension(p, dv[i++]!, dv[i++]!, dv[i++]!, where);
    assert.equal(p.parts!.length, kids.length, `${where} number of parts`);
    kids.forEach((k, n) => sameBody(raw, p.parts![n]!, k, `${where}.${n + 1}`));
    return;
  }
  const [type, subtype, params, id, desc, enc, size] = dv;
  assert.equal(`${p.type}/${p.subtype}`, `${lc(type!)}/${lc(subtype!)}`, where);
  sameParams(p.params, params!, where);
  assert.equal(p.id, id, `${where} id`);
  assert.equal(p.description, desc, `${where} description`);
  assert.equal(p.encoding, lc(enc!), `${where} encoding`);
  const slack = p.type === 'message' && closeDelimiterAtEnd(raw, p) ? 2 : 0;
  assert.equal(p.size + slack, Number(size), `${where} size`);
  let i = 7;
  if (p.type === 'message' && p.subtype === 'rfc822') {
    sameEnvelope(p.envelope!, dv[i++]!, `${where} envelope`);
    sameBody(raw, p.message!, dv[i++]!, `${where}.msg`);
    assert.equal(p.lines! + slack / 2, Number(dv[i++]), `${where} lines`);
  } else if (p.type === 'text') {
    assert.equal(p.lines, Number(dv[i++]), `${where} lines`);
  }
  assert.equal(p.md5, dv[i++], `${where} md5`);
  sameExtension(p, dv[i++]!, dv[i++]!, dv[i++]!, where);
}

function sameEnvelope(e: ImapEnvelope, dv: Sx, where: string): void {
  assert.ok(Array.isArray(dv), where);
  const addr = (l: ImapAddress[] | null) => (l === null ? null : l.map((a) => [a.name, a.adl, a.mailbox, a.host]));
  assert.deepEqual(
    [e.date, e.subject, addr(e.from), addr(e.sender), addr(e.replyTo), addr(e.to), addr(e.cc), addr(e.bcc), e.inReplyTo, e.messageId],
    dv,
    where,
  );
}

function compareAll(messages: Buffer[]): void {
  const res = dovecotFetch(messages, 'BODYSTRUCTURE ENVELOPE RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1]');
  messages.forEach((raw, n) => {
    const r = res[n]!;
    const idx: MessageIndex = indexMessage(raw);
    const where = `message ${n}: ${JSON.stringify(raw.toString('latin1').slice(0, 300))}`;
    assert.equal(Number(r['RFC822.SIZE']), raw.length, where);
    sameEnvelope(idx.envelope, r['ENVELOPE']!, `${where} ENVELOPE`);
    sameBody(raw, idx.body, r['BODYSTRUCTURE']!, `${where} BODYSTRUCTURE`);
    for (const [item, spec] of [
      ['BODY[HEADER]', 'HEADER'],
      ['BODY[TEXT]', 'TEXT'],
      ['BODY[1]', '1'],
    ] as const) {
      const range = sectionRange(idx, spec)!;
      const ours = raw.toString('latin1', range.start, range.end);
      const part = spec === '1' ? findPart(idx.body, '1')! : null;
      // The close-delimiter line end (see the header comment) also shows in BODY[n] of a multipart or message part.
      const slack = part !== null && (part.type === 'multipart' || part.type === 'message') && closeDelimiterAtEnd(raw, part) ? '\r\n' : '';
      assert.equal(ours + slack, r[item] ?? '', `${where} ${item}`);
    }
  });
}

function compose(mail: ConstructorParameters<typeof MailComposer>[0]): Promise<Buffer> {
  // Stored messages are CRLF (ingest normalises); Dovecot reports CRLF sizes.
  return new Promise((resolve, reject) => new MailComposer(mail).compile().build((err, msg) => (err ? reject(err) : resolve(toCrlf(msg)))));
}

// ------------------------------------------------------------------ tests

test('generated MIME trees: BODYSTRUCTURE, ENVELOPE and sections as Dovecot reports them', { skip }, () => {
  const trees = fc.sample(treeArb, { seed: 20240101, numRuns: 300 });
  const messages = trees.map((t, i) =>
    Buffer.from(`From: Sender ${i} <s${i}@example.org>\r\nTo: r@example.net\r\nSubject: tree ${i}\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n` + render(t, '\r\n'), 'utf8'),
  );
  compareAll(messages);
});

test('real-world shapes: nodemailer messages, digests, odd but valid headers', { skip }, async () => {
  const messages: Buffer[] = [];
  messages.push(
    await compose({
      from: '"Jörg Müller" <joerg@example.de>',
      to: ['Ann <ann@example.org>', 'bob@example.net'],
      cc: 'Team: c@x.org, d@x.org;',
      replyTo: 'list@example.org',
      subject: 'Grüße, 日本語 and a subject long enough to be folded over more than one header line ✓',
      text: 'Plain text.\n'.repeat(20),
      html: '<p>HTML <img src="cid:logo@x"></p>',
      attachments: [
        { filename: 'logo.png', content: Buffer.alloc(3000, 7), cid: 'logo@x' },
        { filename: 'report.pdf', content: Buffer.alloc(70000, 1) },
        { filename: 'Bericht für März.txt', content: 'x' },
        { filename: 'forwarded.eml', content: 'Subject: inner\r\nFrom: a@b.c\r\n\r\ninner body\r\n', contentType: 'message/rfc822' },
      ],
    }),
  );
  messages.push(await compose({ from: 'a@b.c', to: 'd@e.f', subject: 'only text', text: 'hello\n' }));
  messages.push(await compose({ from: 'a@b.c', subject: 'only html', html: '<b>hi</b>' }));
  const crlf = (...l: string[]) => Buffer.from(l.join('\r\n'), 'utf8');
  messages.push(
    crlf('Subject: digest', 'MIME-Version: 1.0', 'Content-Type: multipart/digest; boundary=d', '', '--d', '', 'Subject: one', 'From: a@b', '', 'first', '--d', 'Content-Type: text/plain', '', 'second', '--d--', ''),
    crlf(
      'From: "a\\"b" <c@d>, e@f (Real Name), "Q. Q" <@r1,@r2:g@h>, i@[1.2.3.4], j',
      'To: group: ;, other: a@b, c@d',
      'Cc: undisclosed-recipients:;',
      'Bcc: =?utf-8?q?x?= <k@l>, "=?utf-8?q?y?=" <m@n>',
      'Sender:',
      'Subject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=',
      'Date: Thu,',
      ' 13 Feb 1969 23:32 -0330 (Newfoundland Time)',
      'Message-ID: <x@y>',
      '',
      'body',
    ),
    crlf('Subject: one', 'Subject: two', 'From: a@x', 'From: b@x', 'Date: Mon, 1 Jan 2024 00:00:00 +0000', 'Date: Tue, 2 Jan 2024 00:00:00 +0000', '', 'dup headers'),
    crlf('Content-Transfer-Encoding: base64', 'Content-Disposition: attachment; filename=x', '', 'not MIME: no MIME-Version, no Content-Type'),
    crlf('MIME-Version: 1.0', 'Content-Transfer-Encoding: base64', '', 'aGk='),
    crlf('Content-Type: text/plain; charset=utf-8; format=flowed x=y z', '', 'garbage after a parameter'),
    crlf('Content-Type: text/plain; name=a b c; x="y"', '', 'unquoted value with spaces'),
    crlf('Content-Type: TEXT/PLAIN; CHARSET=UTF-8; Name="A.TXT"', 'Content-Disposition: INLINE; FILENAME="X"', 'Content-Transfer-Encoding: BASE64', '', 'eA=='),
    crlf('Content-Type: text/plain; charset=us-ascii (Plain text)', 'Content-Language: en (English), de', '', 'comments'),
    crlf('Content-Type: multipart/mixed; boundary=b', '', '--b', 'Content-Type: text/plain', '--b', '', 'header cut by a boundary', '--b--'),
    crlf('Content-Type: multipart/mixed; boundary=b', '', 'only a preamble'),
    crlf('Content-Type: multipart/mixed; boundary=b', '', '--b', '', 'missing close delimiter'),
    crlf('Subject: header only'),
    crlf('Subject: blank line only', '', ''),
    crlf('Content-Type: message/rfc822', '', 'Subject: top-level message/rfc822', '', 'inner'),
  );
  compareAll(messages);
});
