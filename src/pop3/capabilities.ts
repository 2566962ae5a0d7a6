/**
 * The CAPA list (RFC 2449 5-6): what this connection can do now. It changes with
 * the state and with TLS: STLS only before TLS, USER and plaintext SASL
 * mechanisms only where plaintext passwords are allowed (RFC 2595 4).
 */
import type { Config } from '../config/schema.js';

export interface CapabilityInput {
  pop3: Config['pop3'];
  state: 'authorization' | 'transaction';
  canStartTls: boolean;
  plaintextAllowed: boolean;
  /** SASL mechanisms the Authenticator offers on this connection. */
  mechanisms: string[];
}

export const IMPLEMENTATION = 'mailroom';

export function capabilities(c: CapabilityInput): string[] {
  const caps = ['CAPA', 'TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
  if (c.state === 'authorization') {
    if (c.plaintextAllowed) caps.push('USER');
    if (c.mechanisms.length) caps.push(`SASL ${c.mechanisms.join(' ')}`);
    if (c.canStartTls) caps.push('STLS');
  }
  // EXPIRE NEVER promises the server deletes nothing by itself; with retention set
  // it says after how many days a retrieved message may go (RFC 2449 6.7).
  caps.push(c.pop3.retentionDays > 0 ? `EXPIRE ${c.pop3.retentionDays}` : 'EXPIRE NEVER');
  if (c.pop3.loginDelay > 0) caps.push(`LOGIN-DELAY ${c.pop3.loginDelay}`);
  caps.push(`IMPLEMENTATION ${IMPLEMENTATION}`);
  return caps;
}
