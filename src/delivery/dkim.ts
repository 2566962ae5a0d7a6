/**
 * DKIM signing of outgoing mail (RFC 6376; Ed25519 per RFC 8463), with
 * mailauth doing the cryptography.
 *
 * Keys live in the store, one per domain, under the setting "dkim:<domain>"
 * as JSON; the private key is sealed with the server's secret key, so a copy
 * of the database alone does not let anyone sign as us. `mailroom domain dkim
 * DOMAIN` creates a key and prints the TXT record to publish.
 *
 * The signing domain is the domain of the message's From: address (what
 * DMARC aligns with); a message from a domain without a key goes out
 * unsigned (forwarded mail, for instance). The signature is computed at each
 * attempt over the stored bytes and prepended on the wire; the stored message
 * is never rewritten.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { Readable } from 'node:stream';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import type { Store } from '../store/types.js';

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';

export interface DkimKey {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  /** PEM (PKCS#8). */
  privateKey: string;
  /** The p= value: base64 of the SubjectPublicKeyInfo (RSA) or the raw 32-byte key (Ed25519). */
  publicKey: string;
  createdAt: Date;
}

interface StoredKey {
  selector: string;
  algorithm: DkimAlgorithm;
  sealedPrivateKey: string;
  publicKey: string;
  createdAt: string;
}

export interface Sealer {
  seal(plain: string): string;
  unseal(sealed: string): string;
}

const settingKey = (domain: string) => `dkim:${domain.toLowerCase()}`;

/** A new key pair. RSA 2048 by default: Ed25519 alone is still not verified by every receiver. */
export function generateDkimKey(domain: string, opts: { selector?: string; algorithm?: DkimAlgorithm; bits?: number; now?: Date } = {}): DkimKey {
  const algorithm = opts.algorithm ?? 'rsa-sha256';
  const now = opts.now ?? new Date();
  const selector = opts.selector ?? `mr${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(selector)) {
    throw new Error(`"${selector}" is not a valid DKIM selector (letters, digits, hyphens; dots between labels)`);
  }
  if (algorithm === 'ed25519-sha256') {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    // RFC 8463: p= is the bare 32-byte key, the last 32 bytes of the SPKI.
    return { domain, selector, algorithm, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey: spki.subarray(-32).toString('base64'), createdAt: now };
  }
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: opts.bits ?? 2048 });
  return {
    domain,
    selector,
    algorithm,
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    createdAt: now,
  };
}

/** The TXT record to publish, split into strings of at most 255 octets as DNS requires. */
export function dkimDnsRecord(key: Pick<DkimKey, 'domain' | 'selector' | 'algorithm' | 'publicKey'>): { name: string; value: string; zoneLine: string } {
  const value = `v=DKIM1; k=${key.algorithm === 'ed25519-sha256' ? 'ed25519' : 'rsa'}; p=${key.publicKey}`;
  const name = `${key.selector}._domainkey.${key.domain}`;
  const chunks: string[] = [];
  for (let i = 0; i < value.length; i += 255) chunks.push(`"${value.slice(i, i + 255)}"`);
  return { name, value, zoneLine: `${name}. IN TXT ( ${chunks.join(' ')} )` };
}

export async function saveDkimKey(store: Store, secrets: Sealer, key: DkimKey): Promise<void> {
  const stored: StoredKey = {
    selector: key.selector,
    algorithm: key.algorithm,
    sealedPrivateKey: secrets.seal(key.privateKey),
    publicKey: key.publicKey,
    createdAt: key.createdAt.toISOString(),
  };
  await store.setSetting(settingKey(key.domain), JSON.stringify(stored));
}

export async function loadDkimKey(store: Store, secrets: Sealer, domain: string): Promise<DkimKey | null> {
  const raw = await store.getSetting(settingKey(domain));
  if (!raw) return null;
  const s = JSON.parse(raw) as StoredKey;
  return {
    domain: domain.toLowerCase(),
    selector: s.selector,
    algorithm: s.algorithm,
    privateKey: secrets.unseal(s.sealedPrivateKey),
    publicKey: s.publicKey,
    createdAt: new Date(s.createdAt),
  };
}

/** The domain of the (first) From: address in a header block, lower-case; null if there is none. */
export function fromDomain(header: Buffer | string): string | null {
  const text = (typeof header === 'string' ? header : header.toString('latin1')).replace(/\r?\n[ \t]+/g, ' ');
  const m = /^from:[ \t]*(.*)$/im.exec(text);
  if (!m) return null;
  // Drop comments and quoted display names, then take the address in <> or the bare one.
  const v = m[1]!.replace(/"(?:[^"\\]|\\.)*"/g, '').replace(/\((?:[^()\\]|\\.)*\)/g, '');
  const addr = /<([^>]*)>/.exec(v)?.[1] ?? v.split(',')[0]!;
  const at = addr.lastIndexOf('@');
  if (at < 0) return null;
  const domain = addr
    .slice(at + 1)
    .trim()
    .toLowerCase()
    .replace(/\.$/, '');
  return /^[a-z0-9.-]+$/.test(domain) ? domain : null;
}

/** Signs messages with the key of their From: domain; keys are cached briefly. */
export class DkimSigner {
  private readonly cache = new Map<string, { key: DkimKey | null; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly secrets: Sealer,
    private readonly ttlMs = 60_000,
  ) {}

  async keyFor(domain: string): Promise<DkimKey | null> {
    const hit = this.cache.get(domain);
    if (hit && hit.until > Date.now()) return hit.key;
    const key = await loadDkimKey(this.store, this.secrets, domain);
    this.cache.set(domain, { key, until: Date.now() + this.ttlMs });
    return key;
  }

  /**
   * The DKIM-Signature header (with CRLF) for a message, or null when its From:
   * domain has no key. `open` gives the message bytes (read once, streamed).
   */
  async sign(header: Buffer, open: () => Promise<Readable>, signTime?: Date): Promise<{ header: string; domain: string; selector: string } | null> {
    const domain = fromDomain(header);
    if (!domain) return null;
    const key = await this.keyFor(domain);
    if (!key) return null;
    const result = await dkimSign(await open(), {
      signTime,
      signatureData: [{ signingDomain: key.domain, selector: key.selector, privateKey: key.privateKey, algorithm: key.algorithm }],
    } as never);
    if (result.errors?.length) throw new Error(`DKIM signing for ${domain} failed: ${result.errors.map((e) => e.message).join('; ')}`);
    if (!result.signatures.trim()) return null;
    return { header: result.signatures, domain, selector: key.selector };
  }
}

/** Fingerprint of a public key, for listings ("sha256:ab12…"). */
export function keyFingerprint(publicKey: string): string {
  return 'sha256:' + createHash('sha256').update(Buffer.from(publicKey, 'base64')).digest('hex').slice(0, 16);
}
