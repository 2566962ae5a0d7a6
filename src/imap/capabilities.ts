/**
 * What the server advertises (RFC 3501 6.1.1, RFC 9051 6.1.1), by state:
 * before login, STARTTLS/LOGINDISABLED and AUTH= mechanisms; after login, the
 * extensions. Every name here is implemented by a command or behaviour.
 */

export interface CapabilityContext {
  authenticated: boolean;
  secure: boolean;
  /** STARTTLS possible (plain connection, TLS configured). */
  canStartTls: boolean;
  plaintextAllowed: boolean;
  mechanisms: string[];
  compressed: boolean;
  appendLimit: number;
}

const AFTER_LOGIN = [
  'ENABLE',
  'IDLE',
  'NAMESPACE',
  'ID',
  'UIDPLUS',
  'MOVE',
  'UNSELECT',
  'CHILDREN',
  'SPECIAL-USE',
  'CREATE-SPECIAL-USE',
  'LIST-EXTENDED',
  'LIST-STATUS',
  'ESEARCH',
  'SEARCHRES',
  'CONDSTORE',
  'QRESYNC',
  'SORT',
  'THREAD=REFERENCES',
  'THREAD=ORDEREDSUBJECT',
  'QUOTA',
  'QUOTA=RES-STORAGE',
  'UTF8=ACCEPT',
  'BINARY',
  'STATUS=SIZE',
  'WITHIN',
];

export function capabilities(c: CapabilityContext): string[] {
  const caps = ['IMAP4rev1', 'IMAP4rev2', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE'];
  if (!c.authenticated) {
    if (c.canStartTls) caps.push('STARTTLS');
    if (!c.plaintextAllowed) caps.push('LOGINDISABLED');
    for (const m of c.mechanisms) caps.push(`AUTH=${m}`);
    return caps;
  }
  for (const x of AFTER_LOGIN) if (!caps.includes(x)) caps.push(x);
  caps.push(`APPENDLIMIT=${c.appendLimit}`);
  if (!c.compressed) caps.push('COMPRESS=DEFLATE');
  return caps;
}
