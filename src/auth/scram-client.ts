/**
 * The client side of SCRAM-SHA-256 (RFC 5802 section 3), written straight from
 * the RFC and independent of the server code in scram.ts, so tests of the
 * server check it against a second implementation. Small enough to serve a
 * real client too (a fetch poller logging in to a remote IMAP server).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { scramPassword } from './saslprep.js';

export class ScramSha256Client {
  readonly nonce: string;
  private saltedPassword: Buffer | null = null;
  private authMessage = '';

  constructor(
    private readonly user: string,
    private readonly password: string,
    private readonly opts: { authzid?: string; nonce?: string } = {},
  ) {
    this.nonce = opts.nonce ?? randomBytes(18).toString('base64');
  }

  private get gs2Header(): string {
    return this.opts.authzid === undefined ? 'n,,' : `n,a=${escape(this.opts.authzid)},`;
  }

  private get clientFirstBare(): string {
    return `n=${escape(this.user)},r=${this.nonce}`;
  }

  clientFirst(): string {
    return this.gs2Header + this.clientFirstBare;
  }

  /** The client-final for a server-first; throws if the server-first is not acceptable. */
  clientFinal(serverFirst: string): string {
    const attrs = new Map(serverFirst.split(',').map((kv) => [kv.slice(0, 1), kv.slice(2)] as const));
    const nonce = attrs.get('r') ?? '';
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
    const iterations = Number(attrs.get('i'));
    if (!nonce.startsWith(this.nonce) || nonce.length === this.nonce.length) throw new Error('server nonce does not extend ours');
    if (salt.length === 0 || !Number.isInteger(iterations) || iterations < 1) throw new Error('bad server-first');
    this.saltedPassword = pbkdf2Sync(scramPassword(this.password), salt, iterations, 32, 'sha256');
    const withoutProof = `c=${Buffer.from(this.gs2Header).toString('base64')},r=${nonce}`;
    this.authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientKey = createHmac('sha256', this.saltedPassword).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const signature = createHmac('sha256', storedKey).update(this.authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Whether the server-final proves the server holds our ServerKey. */
  verifyServerFinal(serverFinal: string): boolean {
    if (!this.saltedPassword) return false;
    const serverKey = createHmac('sha256', this.saltedPassword).update('Server Key').digest();
    return serverFinal === `v=${createHmac('sha256', serverKey).update(this.authMessage).digest('base64')}`;
  }
}

function escape(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}
