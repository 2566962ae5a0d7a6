/**
 * Test data for the store contract suite: small, realistic messages with a
 * MessageIndex built by hand (the suite tests the store, not the MIME indexer),
 * and helpers to make users and put blobs.
 */
import type { MessageIndex } from '../../core/mime/types.js';
import type { BlobRef, NewUser, Store, User } from '../types.js';

export interface TestMessage {
  raw: Buffer;
  index: MessageIndex;
}

export interface MessageSpec {
  subject?: string;
  from?: string;
  to?: string;
  text?: string;
  /** Extra header fields, name lower-case. */
  headers?: Array<[string, string]>;
  /** The Date header's own day, or null for a message without one. */
  sentDay?: string | null;
  messageId?: string;
  /** Pad the body to about this many bytes. */
  padTo?: number;
}

let counter = 0;

export function makeMessage(spec: MessageSpec = {}): TestMessage {
  const n = ++counter;
  const subject = spec.subject ?? `Test message ${n}`;
  const from = spec.from ?? 'Sender <sender@example.net>';
  const to = spec.to ?? 'rcpt@example.org';
  const messageId = spec.messageId ?? `<${n}.${Date.now()}@contract.test>`;
  let text = spec.text ?? `Hello,\r\nthis is message number ${n}.\r\n`;
  if (spec.padTo && text.length < spec.padTo) text += 'x'.repeat(spec.padTo - text.length);
  const sentDay = spec.sentDay === undefined ? '2024-01-02' : spec.sentDay;
  const date = sentDay ? `Tue, 02 Jan 2024 10:00:00 +0000`.replace('02 Jan 2024', dayToRfc(sentDay)) : null;
  const headers: Array<[string, string]> = [
    ['from', from],
    ['to', to],
    ['subject', subject],
    ['message-id', messageId],
    ...(date ? ([['date', date]] as Array<[string, string]>) : []),
    ['mime-version', '1.0'],
    ['content-type', 'text/plain; charset=utf-8'],
    ...(spec.headers ?? []),
  ];
  const head = headers.map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const raw = Buffer.from(`${head}\r\n${text}`, 'utf8');
  const headerLen = Buffer.byteLength(head) + 2;
  const index: MessageIndex = {
    version: 1,
    envelope: {
      date,
      subject,
      from: [{ name: null, adl: null, mailbox: 'sender', host: 'example.net' }],
      sender: null,
      replyTo: null,
      to: [{ name: null, adl: null, mailbox: to.split('@')[0] ?? null, host: to.split('@')[1] ?? null }],
      cc: null,
      bcc: null,
      inReplyTo: null,
      messageId,
    },
    body: {
      type: 'text',
      subtype: 'plain',
      params: [['charset', 'utf-8']],
      id: null,
      description: null,
      encoding: '8bit',
      size: raw.length - headerLen,
      lines: text.split('\r\n').length - 1,
      md5: null,
      disposition: null,
      language: null,
      location: null,
      headerStart: 0,
      bodyStart: headerLen,
      bodyEnd: raw.length,
    },
    subject,
    baseSubject: subject.replace(/^(re|fwd?):\s*/i, ''),
    from,
    to,
    cc: '',
    sortFrom: 'sender',
    sortTo: to.split('@')[0] ?? '',
    sortCc: '',
    sentDate: sentDay ? Date.parse(`${sentDay}T10:00:00Z`) : null,
    sentDay,
    messageId,
    inReplyTo: null,
    references: [],
    headers,
    text,
    hasAttachments: false,
    preview: text.slice(0, 80),
  };
  return { raw, index };
}

function dayToRfc(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return `${String(d.getUTCDate()).padStart(2, '0')} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

export async function putMessage(store: Store, spec: MessageSpec = {}): Promise<{ blob: BlobRef; index: MessageIndex; raw: Buffer }> {
  const m = makeMessage(spec);
  const blob = await store.blobs.put(m.raw);
  return { blob, index: m.index, raw: m.raw };
}

export const CREDS: NewUser['credentials'] = { passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', scramSha256: null, sealedSecret: null };

let userCounter = 0;

/** A fresh user in a fresh (or given) domain: names never collide within one store. */
export async function makeUser(store: Store, opts: { domain?: string; quota?: number; local?: string } = {}): Promise<User> {
  const n = ++userCounter;
  const domain = opts.domain ?? `d${n}-${process.pid}.example`;
  if (!(await store.getDomain(domain))) await store.addDomain(domain);
  const address = `${opts.local ?? `user${n}`}@${domain}`;
  return store.addUser({ login: address, address, quota: opts.quota ?? 0, credentials: CREDS });
}
