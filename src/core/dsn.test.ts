import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import {
  buildDsn,
  decodeXtext,
  headerOf,
  isAutomatedReport,
  parseNotify,
  replyCode,
  rfc5322Date,
  statusFromReply,
  wantsReport,
  type DsnInput,
} from './dsn.js';

const original = Buffer.from(
  'From: Alice <alice@example.org>\r\nTo: bob@remote.test\r\nSubject: Lunch\r\nMessage-ID: <m1@example.org>\r\n\r\nSee you at noon.\r\n',
);

function base(over: Partial<DsnInput> = {}): DsnInput {
  return {
    kind: 'failure',
    reportingMta: 'mx.example.org',
    to: 'alice@example.org',
    date: new Date(Date.UTC(2024, 0, 2, 10, 0, 0)),
    messageId: 'dsn1@mx.example.org',
    boundary: 'BOUNDARY-1',
    queueId: 'Q1',
    envelopeId: 'env+1',
    arrivalDate: new Date(Date.UTC(2024, 0, 2, 9, 0, 0)),
    recipients: [
      {
        finalRecipient: 'bob@remote.test',
        originalRecipient: 'rfc822;bob+x@remote.test',
        reply: '550 5.1.1 <bob@remote.test>: Recipient address rejected',
        remoteMta: 'mx.remote.test',
        lastAttemptDate: new Date(Date.UTC(2024, 0, 2, 9, 59, 0)),
      },
    ],
    original,
    ...over,
  };
}

test('statusFromReply takes the enhanced code when its class agrees', () => {
  assert.equal(statusFromReply('550 5.1.1 no such user'), '5.1.1');
  assert.equal(statusFromReply('452 4.2.2 mailbox full'), '4.2.2');
  assert.equal(statusFromReply('550 no such user'), '5.0.0');
  assert.equal(statusFromReply('550 4.1.1 confused'), '5.0.0');
  assert.equal(statusFromReply('421-4.7.0 too many\n421 4.7.0 connections'), '4.7.0');
  assert.equal(statusFromReply('garbage'), '4.0.0');
  assert.equal(statusFromReply('garbage', 5), '5.0.0');
  assert.equal(statusFromReply(null), '4.0.0');
});

test('replyCode', () => {
  assert.equal(replyCode('250 ok'), 250);
  assert.equal(replyCode('421-first\n421 last'), 421);
  assert.equal(replyCode('hello'), null);
  assert.equal(replyCode('25 short'), null);
  assert.equal(replyCode('550'), 550);
});

test('NOTIFY policy follows RFC 3461', () => {
  assert.deepEqual(parseNotify(null), { never: false, success: false, failure: true, delay: true });
  assert.deepEqual(parseNotify('NEVER'), { never: true, success: false, failure: false, delay: false });
  assert.deepEqual(parseNotify('success,Failure'), { never: false, success: true, failure: true, delay: false });
  assert.equal(wantsReport('SUCCESS', 'failure'), false);
  assert.equal(wantsReport('SUCCESS', 'relayed'), true);
  assert.equal(wantsReport(undefined, 'delay'), true);
  assert.equal(wantsReport('FAILURE', 'delay'), false);
});

test('xtext decoding', () => {
  assert.equal(decodeXtext('a+2Bb+3Dc'), 'a+b=c');
  assert.equal(decodeXtext('plain'), 'plain');
  assert.equal(decodeXtext('bad+zz'), 'bad+zz');
});

test('rfc5322Date', () => {
  assert.equal(rfc5322Date(new Date(Date.UTC(2024, 0, 2, 3, 4, 5))), 'Tue, 02 Jan 2024 03:04:05 +0000');
});

test('headerOf stops at the empty line', () => {
  assert.equal(headerOf(original).toString(), original.toString().split('\r\n\r\n')[0] + '\r\n');
  assert.equal(headerOf(Buffer.from('A: b\nC: d\n\nbody')).toString(), 'A: b\nC: d\n');
  assert.equal(headerOf(Buffer.from('A: b')).toString(), 'A: b');
});

test('a failure report is a well-formed multipart/report with the remote reply and the original header', async () => {
  const raw = buildDsn(base());
  const text = raw.toString();
  assert.ok(!/(?<!\r)\n/.test(text), 'only CRLF line ends');
  assert.match(text, /^From: Mail Delivery System <MAILER-DAEMON@mx\.example\.org>\r\n/);
  assert.match(text, /\r\nAuto-Submitted: auto-replied\r\n/);
  assert.match(text, /Subject: Undelivered Mail Returned to Sender: Lunch\r\n/);
  assert.match(text, /Reporting-MTA: dns; mx\.example\.org\r\n/);
  assert.match(text, /Original-Envelope-Id: env\+1\r\n/);
  assert.match(text, /Final-Recipient: rfc822; bob@remote\.test\r\n/);
  assert.match(text, /Original-Recipient: rfc822; bob\+x@remote\.test\r\n/);
  assert.match(text, /Action: failed\r\nStatus: 5\.1\.1\r\n/);
  assert.match(text, /Remote-MTA: dns; mx\.remote\.test\r\n/);
  assert.match(text, /Diagnostic-Code: smtp; 550 5\.1\.1 <bob@remote\.test>: Recipient address rejected\r\n/);
  assert.ok(!text.includes('See you at noon'), 'HDRS: no body');

  const parsed = await simpleParser(raw);
  assert.equal(parsed.headers.get('content-type') && (parsed.headers.get('content-type') as { value: string }).value, 'multipart/report');
  assert.equal(parsed.messageId, '<dsn1@mx.example.org>');
  assert.match(parsed.text ?? '', /host mx\.remote\.test said: 550 5\.1\.1/);
  const headers = parsed.attachments.find((a) => a.contentType === 'text/rfc822-headers');
  assert.ok(headers, 'the original header comes back as text/rfc822-headers');
  assert.match(headers.content.toString(), /^From: Alice <alice@example\.org>\r\n[\s\S]*Message-ID: <m1@example\.org>\r\n$/);
  // Three parts in order: explanation, machine-readable report, original header.
  const parts = text.split('\r\n--BOUNDARY-1').slice(1);
  assert.equal(parts.length, 4);
  assert.match(parts[0]!, /^\r\nContent-Description: Notification\r\nContent-Type: text\/plain/);
  assert.match(parts[1]!, /^\r\nContent-Description: Delivery report\r\nContent-Type: message\/delivery-status\r\n\r\nReporting-MTA/);
  assert.match(parts[2]!, /^\r\nContent-Description: Undelivered Message Headers\r\nContent-Type: text\/rfc822-headers\r\n\r\nFrom: Alice/);
  assert.equal(parts[3], '--\r\n');
});

test('RET=FULL returns the whole message; delay reports say delayed with 4.x.x and Will-Retry-Until', async () => {
  const full = buildDsn(base({ ret: 'FULL' })).toString();
  assert.match(full, /Content-Type: message\/rfc822\r\n\r\nFrom: Alice[\s\S]*See you at noon\.\r\n\r\n--BOUNDARY-1--\r\n$/);

  const delay = buildDsn(
    base({
      kind: 'delay',
      recipients: [
        {
          finalRecipient: 'bob@remote.test',
          reply: '450 4.2.0 try later',
          willRetryUntil: new Date(Date.UTC(2024, 0, 7, 9, 0, 0)),
        },
        { finalRecipient: 'carol@remote.test', reply: 'connection refused', replyFromRemote: false },
      ],
    }),
  ).toString();
  assert.match(delay, /Subject: Delayed Mail \(still being retried\)/);
  assert.match(delay, /Action: delayed\r\nStatus: 4\.2\.0\r\n/);
  assert.match(delay, /Will-Retry-Until: Sun, 07 Jan 2024 09:00:00 \+0000/);
  assert.match(delay, /Final-Recipient: rfc822; carol@remote\.test\r\nAction: delayed\r\nStatus: 4\.0\.0\r\nDiagnostic-Code: X-mailroom; connection refused/);
});

test('multi-line and non-ASCII replies become one ASCII line', () => {
  const raw = buildDsn(
    base({ recipients: [{ finalRecipient: 'bob@remote.test', reply: '550-5.7.1 first\r\n550 5.7.1 sécond' }] }),
  ).toString();
  assert.match(raw, /Diagnostic-Code: smtp; 550-5\.7\.1 first 550 5\.7\.1 s\?cond\r\n/);
  assert.match(raw, /Status: 5\.7\.1/);
});

test('internationalised addresses use the utf-8 address type and global types', () => {
  const raw = buildDsn(base({ to: 'álice@example.org', recipients: [{ finalRecipient: 'bób@remote.test', reply: '550 no' }] })).toString();
  assert.match(raw, /Content-Type: message\/global-delivery-status/);
  assert.match(raw, /Final-Recipient: utf-8; bób@remote\.test/);
  assert.match(raw, /Content-Type: message\/global-headers/);
});

test('header injection through addresses is impossible', () => {
  const raw = buildDsn(base({ to: 'a@b\r\nBcc: evil@x' })).toString();
  assert.ok(!/^Bcc:/m.test(raw));
});

test('no recipients is a programming error', () => {
  assert.throws(() => buildDsn(base({ recipients: [] })));
});

test('isAutomatedReport recognises DSNs and auto-replies, not ordinary mail', () => {
  assert.equal(isAutomatedReport(headerOf(buildDsn(base()))), true);
  assert.equal(isAutomatedReport(Buffer.from('Auto-Submitted: auto-generated\r\n')), true);
  assert.equal(isAutomatedReport(Buffer.from('Auto-Submitted: no\r\n')), false);
  assert.equal(isAutomatedReport(Buffer.from('Content-Type: multipart/report;\r\n report-type=delivery-status; boundary=x\r\n')), true);
  assert.equal(isAutomatedReport(headerOf(original)), false);
});
