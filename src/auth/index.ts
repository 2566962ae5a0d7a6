/**
 * auth/: how every protocol logs a user in.
 *
 * - Passwords are kept as argon2id hashes (password.ts, RFC 9106) and as
 *   SCRAM-SHA-256 keys (scram.ts, RFC 5802/7677); a sealed copy of the password
 *   (secrets.ts, AES-256-GCM) is kept only when CRAM-MD5 (RFC 2195) or POP3 APOP
 *   (RFC 1939) is enabled, since those need a password-equivalent.
 * - SASL mechanisms (sasl/, RFC 4422): PLAIN (RFC 4616), LOGIN, CRAM-MD5,
 *   SCRAM-SHA-256. Plaintext ones are offered only over TLS, or where
 *   auth.plaintext allows it ("loopback": 127.0.0.0/8, ::1).
 * - Every attempt, by any protocol, goes through one LoginGate (login.ts) and
 *   one LoginThrottle (throttle.ts) per process, so failures on IMAP count
 *   against the same client on SMTP.
 * - Credentials catch up with the configuration: after a successful password
 *   login, missing SCRAM keys are added, an argon2 hash made with weaker
 *   parameters is redone, and the sealed copy is added or dropped to match
 *   whether CRAM-MD5/APOP are enabled.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Store, UserCredentials } from '../store/types.js';
import { isLoopback } from './address.js';
import { AuthError } from './errors.js';
import { LoginGate, type Attempt } from './login.js';
import { hashPassword, needsRehash, verifyDummy, verifyPassword } from './password.js';
import { findMechanism, type SaslBackend } from './sasl/index.js';
import { parseScramCredentials, scramSha256, SCRAM_SALT_BYTES } from './scram.js';
import { LoginThrottle } from './throttle.js';
import type { Authenticator, LoginContext, LoginResult } from './types.js';

export { loadOrCreateSecretKey, createSecrets, type Secrets } from './secrets.js';
export { isLoopback } from './address.js';
export { AuthError, isAuthError } from './errors.js';
export { cramMd5Challenge } from './sasl/cram-md5.js';

export interface AuthenticatorOptions {
  store: Store;
  config: Config;
  secrets: { seal(p: string): string; unseal(s: string): string };
  logger?: Logger;
  /** Milliseconds clock for the throttle (tests). */
  now?: () => number;
}

/** Longest password we will hash (argon2 takes any length; a megabyte "password" is an attack). */
const MAX_PASSWORD = 4096;
/** Setting holding the key that makes up SCRAM salts for logins that do not exist. */
const FAKE_SALT_SETTING = 'auth.scram_fake_salt_key';

export function createAuthenticator(opts: AuthenticatorOptions): Authenticator {
  const { store, config, secrets } = opts;
  const logger = opts.logger;
  const throttle = new LoginThrottle({ ...config.auth, ...(opts.now ? { now: opts.now } : {}) });
  const gate = new LoginGate(store, throttle, logger);
  const enabled = new Set<string>(config.auth.mechanisms);
  const keepSealed = enabled.has('CRAM-MD5') || config.pop3.apop;

  function plaintextAllowed(ctx: LoginContext): boolean {
    if (ctx.secure) return true;
    switch (config.auth.plaintext) {
      case 'always':
        return true;
      case 'loopback':
        return isLoopback(ctx.ip);
      case 'never':
        return false;
    }
  }

  function mechanisms(ctx: LoginContext): string[] {
    const plain = plaintextAllowed(ctx);
    return config.auth.mechanisms.filter((name) => plain || !findMechanism(name)?.plaintext);
  }

  /** The password behind a sealed secret, or null (none kept, or unsealable: logged for the operator). */
  function unsealed(a: Attempt): string | null {
    const sealed = a.creds?.sealedSecret;
    if (!sealed) return null;
    try {
      return secrets.unseal(sealed);
    } catch (err) {
      logger?.error({ userId: a.user?.id, err }, 'sealed secret cannot be unsealed (secret key changed?)');
      return null;
    }
  }

  async function checkPassword(login: string, password: string, ctx: LoginContext, mechanism: string): Promise<LoginResult> {
    if (password.length === 0 || password.length > MAX_PASSWORD) return gate.refuse(login, ctx, mechanism, 'empty or oversized password');
    const begun = await gate.begin(login, ctx, mechanism);
    if (!begun.ok) return begun.result;
    const a = begun.attempt;
    let ok: boolean;
    try {
      ok = a.creds ? await verifyPassword(a.creds.passwordHash, password) : await verifyDummy(password);
    } catch (err) {
      return gate.abort(a, err);
    }
    const result = gate.finish(a, ok);
    if (result.ok && a.creds) await catchUp(a.creds, password);
    return result;
  }

  /** Bring stored credentials in line with the configuration, now that we hold the password. */
  async function catchUp(creds: UserCredentials, password: string): Promise<void> {
    let scramOk = false;
    try {
      if (creds.scramSha256) scramOk = !!parseScramCredentials(creds.scramSha256);
    } catch {
      scramOk = false;
    }
    let sealedOk = false;
    if (creds.sealedSecret) {
      try {
        sealedOk = secrets.unseal(creds.sealedSecret) === password;
      } catch {
        sealedOk = false;
      }
    }
    const rehash = needsRehash(creds.passwordHash);
    if (scramOk && !rehash && sealedOk === keepSealed && (keepSealed || !creds.sealedSecret)) return;
    try {
      await store.setCredentials(creds.userId, {
        passwordHash: rehash ? await hashPassword(password) : creds.passwordHash,
        scramSha256: scramOk ? creds.scramSha256 : await scramSha256(password),
        sealedSecret: keepSealed ? (sealedOk ? creds.sealedSecret : secrets.seal(password)) : null,
      });
      logger?.info({ userId: creds.userId }, 'credentials updated to match the configuration');
    } catch (err) {
      logger?.warn({ userId: creds.userId, err }, 'could not update credentials');
    }
  }

  async function checkDigest(
    login: string,
    ctx: LoginContext,
    mechanism: string,
    digestHex: string,
    expected: (secret: string) => Buffer,
  ): Promise<LoginResult> {
    if (!/^[0-9a-fA-F]{32}$/.test(digestHex)) return gate.refuse(login, ctx, mechanism, 'digest is not 32 hex digits');
    const begun = await gate.begin(login, ctx, mechanism);
    if (!begun.ok) return begun.result;
    const secret = unsealed(begun.attempt);
    // Compute a digest either way, so a login without a secret answers in the same time.
    const want = expected(secret ?? randomBytes(16).toString('hex'));
    const ok = secret !== null && timingSafeEqual(want, Buffer.from(digestHex, 'hex'));
    return gate.finish(begun.attempt, ok);
  }

  let fakeSaltKey: Promise<Buffer> | null = null;
  function loadFakeSaltKey(): Promise<Buffer> {
    fakeSaltKey ??= (async () => {
      const stored = await store.getSetting(FAKE_SALT_SETTING);
      if (stored && /^[0-9a-f]{64}$/.test(stored)) return Buffer.from(stored, 'hex');
      await store.setSetting(FAKE_SALT_SETTING, randomBytes(32).toString('hex'));
      // Read back: if another process raced us, everyone uses the one that was kept.
      const kept = await store.getSetting(FAKE_SALT_SETTING);
      if (!kept || !/^[0-9a-f]{64}$/.test(kept)) throw new Error('could not keep the SCRAM fake-salt key');
      return Buffer.from(kept, 'hex');
    })();
    fakeSaltKey.catch(() => {
      fakeSaltKey = null; // try again next time
    });
    return fakeSaltKey;
  }

  function backend(ctx: LoginContext): SaslBackend {
    return {
      ctx,
      hostname: config.hostname,
      gate,
      verifyPassword: (login, password, mechanism) => checkPassword(login, password, ctx, mechanism),
      verifyCramMd5: (login, challenge, digestHex) => auth.verifyCramMd5(login, challenge, digestHex, ctx),
      async fakeScramSalt(login) {
        const key = await loadFakeSaltKey();
        return createHmac('sha256', key).update(login.toLowerCase()).digest().subarray(0, SCRAM_SALT_BYTES);
      },
    };
  }

  const auth: Authenticator = {
    verifyPassword: (login, password, ctx) => checkPassword(login, password, ctx, 'password'),

    mechanisms,
    plaintextAllowed,

    startSasl(mechanism, ctx) {
      const m = findMechanism(mechanism);
      if (!m || !mechanisms(ctx).includes(m.name)) return null;
      return m.create(backend(ctx));
    },

    async verifyApop(login, timestamp, digestHex, ctx) {
      if (!config.pop3.apop) return gate.refuse(login, ctx, 'APOP', 'APOP is not enabled');
      return checkDigest(login, ctx, 'APOP', digestHex, (secret) => createHash('md5').update(timestamp + secret, 'utf8').digest());
    },

    async verifyCramMd5(login, challenge, digestHex, ctx) {
      if (!enabled.has('CRAM-MD5')) return gate.refuse(login, ctx, 'CRAM-MD5', 'CRAM-MD5 is not enabled');
      return checkDigest(login, ctx, 'CRAM-MD5', digestHex, (secret) => createHmac('md5', secret).update(challenge, 'utf8').digest());
    },

    async deriveCredentials(password) {
      // A password no login could ever present (see checkPassword) must not be set either.
      if (password.length === 0) throw new AuthError('password', 'the password is empty');
      if (password.length > MAX_PASSWORD) throw new AuthError('password', `the password is longer than ${MAX_PASSWORD} characters`);
      return {
        passwordHash: await hashPassword(password),
        scramSha256: await scramSha256(password),
        sealedSecret: keepSealed ? secrets.seal(password) : null,
      };
    },

    throttledFor: (ip, login) => gate.waitFor(ip, login),
  };
  return auth;
}
