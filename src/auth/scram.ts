/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677), server side, without channel binding
 * (we do not offer SCRAM-SHA-256-PLUS).
 *
 * At password-set time we keep only "iterations$salt$StoredKey$ServerKey"
 * (base64 parts): enough to check a client's proof and to prove ourselves to
 * it, not enough to log in as the user or recover the password.
 *
 * The exchange:
 *   C: n,,n=user,r=cnonce                          (gs2 header + client-first-bare)
 *   S: r=cnonce+snonce,s=salt,i=4096                 (server-first)
 *   C: c=biws,r=cnonce+snonce,p=proof                (client-final)
 *   S: v=ServerSignature                             (server-final)
 * AuthMessage = client-first-bare + "," + server-first + "," + client-final-without-proof
 * ClientKey = proof XOR HMAC(StoredKey, AuthMessage); accepted iff H(ClientKey) = StoredKey.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { AuthError } from './errors.js';
import { scramPassword } from './saslprep.js';

const pbkdf2Async = promisify(pbkdf2);

/** RFC 7677 asks for at least 4096. */
export const DEFAULT_SCRAM_ITERATIONS = 4096;
export const SCRAM_SALT_BYTES = 16;
/** An iteration count a stored credential may not exceed (a forged row must not stall logins). */
const MAX_ITERATIONS = 10_000_000;

export interface ScramCredentials {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

const hmac = (key: Buffer, data: string | Buffer): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

/** Keys from SaltedPassword = Hi(SASLprep(password), salt, i). */
export function scramKeysFromSalted(salted: Buffer): { clientKey: Buffer; storedKey: Buffer; serverKey: Buffer } {
  const clientKey = hmac(salted, 'Client Key');
  return { clientKey, storedKey: sha256(clientKey), serverKey: hmac(salted, 'Server Key') };
}

export async function deriveScramCredentials(
  password: string,
  opts: { iterations?: number; salt?: Buffer } = {},
): Promise<ScramCredentials> {
  const iterations = opts.iterations ?? DEFAULT_SCRAM_ITERATIONS;
  const salt = opts.salt ?? randomBytes(SCRAM_SALT_BYTES);
  const salted = await pbkdf2Async(Buffer.from(scramPassword(password), 'utf8'), salt, iterations, 32, 'sha256');
  const { storedKey, serverKey } = scramKeysFromSalted(salted);
  return { iterations, salt, storedKey, serverKey };
}

export function formatScramCredentials(c: ScramCredentials): string {
  return [String(c.iterations), c.salt.toString('base64'), c.storedKey.toString('base64'), c.serverKey.toString('base64')].join('$');
}

/** Throws AuthError 'scramCredentials' for anything that is not our format. */
export function parseScramCredentials(s: string): ScramCredentials {
  const parts = s.split('$');
  const bad = (): never => {
    throw new AuthError('scramCredentials', 'stored SCRAM-SHA-256 credentials are malformed');
  };
  if (parts.length !== 4 || !/^[1-9]\d{0,9}$/.test(parts[0]!)) bad();
  const iterations = Number(parts[0]);
  if (iterations > MAX_ITERATIONS) bad();
  const [salt, storedKey, serverKey] = parts.slice(1).map((p) => (/^[A-Za-z0-9+/]*={0,2}$/.test(p) ? Buffer.from(p, 'base64') : null));
  if (!salt || salt.length === 0 || storedKey?.length !== 32 || serverKey?.length !== 32) bad();
  return { iterations, salt: salt!, storedKey: storedKey!, serverKey: serverKey! };
}

/** The string the store keeps for a password. */
export async function scramSha256(password: string, iterations = DEFAULT_SCRAM_ITERATIONS): Promise<string> {
  return formatScramCredentials(await deriveScramCredentials(password, { iterations }));
}

// ---------------------------------------------------------------- messages

export interface ClientFirst {
  /** "n,," or "y,," or "n,a=user," as sent: the client-final c= must echo it. */
  gs2Header: string;
  authzid: string;
  authcid: string;
  clientNonce: string;
  /** client-first-message-bare, part of AuthMessage. */
  bare: string;
}

export interface ClientFinal {
  channelBinding: Buffer;
  nonce: string;
  proof: Buffer;
  withoutProof: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** RFC 5802 saslname: "=2C" is ",", "=3D" is "=", any other "=" is an error. */
function decodeSaslname(s: string): string | null {
  if (s.length === 0) return null;
  let bad = false;
  const out = s.replace(/=(..)?/g, (_m, code: string | undefined) => {
    if (code === '2C') return ',';
    if (code === '3D') return '=';
    bad = true;
    return '';
  });
  return bad ? null : out;
}

export function parseClientFirst(msg: string): Parsed<ClientFirst> {
  const fail = (error: string): Parsed<ClientFirst> => ({ ok: false, error });
  const c1 = msg.indexOf(',');
  const c2 = c1 < 0 ? -1 : msg.indexOf(',', c1 + 1);
  if (c2 < 0) return fail('no gs2 header');
  const flag = msg.slice(0, c1);
  if (flag.startsWith('p=')) return fail('channel binding is not offered');
  if (flag !== 'n' && flag !== 'y') return fail('bad gs2 channel binding flag');
  const az = msg.slice(c1 + 1, c2);
  let authzid = '';
  if (az !== '') {
    if (!az.startsWith('a=')) return fail('bad authzid');
    const d = decodeSaslname(az.slice(2));
    if (d === null) return fail('bad authzid');
    authzid = d;
  }
  const bare = msg.slice(c2 + 1);
  const fields = bare.split(',');
  if (fields[0]?.startsWith('m=')) return fail('unsupported mandatory extension');
  if (!fields[0]?.startsWith('n=')) return fail('no username');
  const authcid = decodeSaslname(fields[0].slice(2));
  if (authcid === null) return fail('bad username');
  if (!fields[1]?.startsWith('r=')) return fail('no nonce');
  const clientNonce = fields[1].slice(2);
  if (!NONCE.test(clientNonce)) return fail('bad nonce');
  return { ok: true, value: { gs2Header: msg.slice(0, c2 + 1), authzid, authcid, clientNonce, bare } };
}

export function serverFirstMessage(nonce: string, salt: Buffer, iterations: number): string {
  return `r=${nonce},s=${salt.toString('base64')},i=${iterations}`;
}

export function parseClientFinal(msg: string): Parsed<ClientFinal> {
  const fail = (error: string): Parsed<ClientFinal> => ({ ok: false, error });
  const p = msg.lastIndexOf(',p=');
  if (p < 0) return fail('no proof');
  const withoutProof = msg.slice(0, p);
  const proofText = msg.slice(p + 3);
  const fields = withoutProof.split(',');
  if (!fields[0]?.startsWith('c=')) return fail('no channel binding');
  if (!fields[1]?.startsWith('r=')) return fail('no nonce');
  const cb = fields[0].slice(2);
  if (!BASE64.test(cb) || !BASE64.test(proofText)) return fail('bad base64');
  return {
    ok: true,
    value: { channelBinding: Buffer.from(cb, 'base64'), nonce: fields[1].slice(2), proof: Buffer.from(proofText, 'base64'), withoutProof },
  };
}

/** Whether the client's proof shows it knows the password behind `creds` (constant time). */
export function verifyClientProof(creds: ScramCredentials, authMessage: string, proof: Buffer): boolean {
  const signature = hmac(creds.storedKey, authMessage);
  if (proof.length !== signature.length) return false;
  const clientKey = Buffer.alloc(signature.length);
  for (let i = 0; i < signature.length; i++) clientKey[i] = proof[i]! ^ signature[i]!;
  return timingSafeEqual(sha256(clientKey), creds.storedKey);
}

export function serverFinalMessage(creds: ScramCredentials, authMessage: string): string {
  return `v=${hmac(creds.serverKey, authMessage).toString('base64')}`;
}

/** A fresh server nonce part: printable, no commas. */
export function serverNonce(): string {
  return randomBytes(18).toString('base64');
}
