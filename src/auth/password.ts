/**
 * Password hashing with argon2id (RFC 9106), stored as PHC strings
 * ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash") so parameters travel with the hash
 * and can be raised later without breaking old hashes.
 *
 * Parameters follow OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane):
 * about 20-40 ms on a server core, which is what a login may cost.
 *
 * Verifying for a login that does not exist still runs one argon2id
 * verification (against a dummy hash made with the same parameters), so the
 * response time does not tell an attacker which logins exist.
 */
import { randomUUID } from 'node:crypto';
import { hash, parseOptions, verify, type Options } from '@node-rs/argon2';

export interface PasswordHashParams {
  /** KiB of memory. */
  memoryCost: number;
  /** Passes. */
  timeCost: number;
  parallelism: number;
}

export const DEFAULT_HASH_PARAMS: PasswordHashParams = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

// 2 = Algorithm.Argon2id; the package declares it as an ambient const enum,
// which isolatedModules code may not read, so the value is spelled out.
const ARGON2ID = 2;

function options(params: PasswordHashParams): Options {
  return { algorithm: ARGON2ID, ...params, outputLen: 32 };
}

export async function hashPassword(password: string, params: PasswordHashParams = DEFAULT_HASH_PARAMS): Promise<string> {
  return hash(password, options(params));
}

/** True if the password matches; false (never a throw) for a wrong password or a malformed hash. */
export async function verifyPassword(phc: string, password: string): Promise<boolean> {
  if (!phc.startsWith('$argon2')) return false;
  try {
    return await verify(phc, password);
  } catch {
    return false;
  }
}

const dummyHashes = new Map<string, Promise<string>>();

/**
 * Spend the time one verification costs without any account behind it. The
 * dummy hash is made once per parameter set (lazily) with a random password,
 * so nothing can ever match it.
 */
export async function verifyDummy(password: string, params: PasswordHashParams = DEFAULT_HASH_PARAMS): Promise<false> {
  const key = `${params.memoryCost}/${params.timeCost}/${params.parallelism}`;
  let dummy = dummyHashes.get(key);
  if (!dummy) {
    dummy = hashPassword(randomUUID(), params);
    dummyHashes.set(key, dummy);
  }
  await verifyPassword(await dummy, password);
  return false;
}

/** Whether a stored hash was made with weaker parameters (or another algorithm) than `params`. */
export function needsRehash(phc: string, params: PasswordHashParams = DEFAULT_HASH_PARAMS): boolean {
  try {
    const o = parseOptions(phc);
    return (
      o.algorithm !== ARGON2ID ||
      o.memoryCost < params.memoryCost ||
      o.timeCost < params.timeCost ||
      o.parallelism !== params.parallelism
    );
  } catch {
    return true;
  }
}
