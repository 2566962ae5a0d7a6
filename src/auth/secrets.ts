/**
 * Secrets at rest: the server's 32-byte key, and sealing of strings with it
 * (fetch passwords, the password-equivalents CRAM-MD5 and APOP need).
 *
 * Sealed format, versioned so the scheme can change without breaking old rows:
 *   "v1." + base64url(nonce[12] || ciphertext || tag[16])
 * AES-256-GCM with a fresh random nonce per seal: sealing the same plaintext
 * twice gives different strings, and any change to a sealed string (or the
 * wrong key) fails authentication instead of decrypting to garbage.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { AuthError } from './errors.js';

export const SECRET_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v1.';

export interface Secrets {
  seal(plain: string): string;
  /** Throws AuthError 'sealedFormat' or 'sealedTampered'. */
  unseal(sealed: string): string;
}

/**
 * Read the key at `path`, or create it (32 random bytes, mode 0600) if there is
 * none. Creation is atomic (written to a temporary file, then linked into
 * place), so two processes starting together end up with the same key.
 * The file holds the raw bytes; a 64-digit hex or base64 text key is accepted
 * too, for operators who provision keys from a secrets manager.
 */
export function loadOrCreateSecretKey(path: string): Buffer {
  try {
    return readKey(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, randomBytes(SECRET_KEY_BYTES));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Someone else created it first: theirs is the key.
  } finally {
    unlinkSync(tmp);
  }
  syncDir(dirname(path));
  return readKey(path);
}

function readKey(path: string): Buffer {
  const data = readFileSync(path);
  // A key readable by others is a key shared with them: tighten it (best effort).
  try {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  } catch {
    /* not ours to change (read-only mount): still usable */
  }
  if (data.length === SECRET_KEY_BYTES) return data;
  const text = data.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const key = Buffer.from(text, 'base64');
    if (key.length === SECRET_KEY_BYTES) return key;
  }
  throw new AuthError('secretKey', `secret key file ${path} must hold ${SECRET_KEY_BYTES} bytes (raw, hex or base64)`);
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* some filesystems refuse fsync on directories; the file itself is synced */
  }
}

export function createSecrets(key: Buffer): Secrets {
  if (key.length !== SECRET_KEY_BYTES) {
    throw new AuthError('secretKey', `secret key must be ${SECRET_KEY_BYTES} bytes, got ${key.length}`);
  }
  const k = Buffer.from(key); // our own copy: the caller may reuse theirs
  return {
    seal(plain: string): string {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', k, nonce);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return VERSION + Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url');
    },
    unseal(sealed: string): string {
      if (!sealed.startsWith(VERSION)) throw new AuthError('sealedFormat', 'sealed secret has an unknown version');
      const text = sealed.slice(VERSION.length);
      if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new AuthError('sealedFormat', 'sealed secret is not base64url');
      const raw = Buffer.from(text, 'base64url');
      if (raw.length < NONCE_BYTES + TAG_BYTES) throw new AuthError('sealedFormat', 'sealed secret is too short');
      const nonce = raw.subarray(0, NONCE_BYTES);
      const tag = raw.subarray(raw.length - TAG_BYTES);
      const body = raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', k, nonce);
      decipher.setAuthTag(tag);
      try {
        return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
      } catch {
        throw new AuthError('sealedTampered', 'sealed secret failed authentication (tampered, or sealed with another key)');
      }
    },
  };
}
