/**
 * The first run of a fresh store: one domain (from the hostname) and an
 * administrator whose generated password is shown once. `mailroom init` and a
 * `mailroom start` on an empty data directory both come through here.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Authenticator } from './auth/types.js';
import type { Config } from './config/schema.js';
import type { Store } from './store/types.js';

/** mail.example.org → example.org; example.org and localhost stay as they are. */
export function domainOfHostname(hostname: string): string {
  const labels = hostname.toLowerCase().replace(/\.$/, '').split('.');
  return labels.length > 2 ? labels.slice(1).join('.') : labels.join('.');
}

export function generatePassword(): string {
  // 18 random bytes → 24 characters of base64url: about 144 bits.
  return randomBytes(18).toString('base64url');
}

export interface FirstRunResult {
  domain: string;
  admin: string;
  password: string;
}

/** Creates the first domain and admin if the store has no users; returns what it made, or null. */
export async function initializeStore(store: Store, auth: Authenticator, config: Config, opts: { domain?: string; admin?: string } = {}): Promise<FirstRunResult | null> {
  if ((await store.listUsers()).length > 0) return null;
  const domain = (opts.domain ?? domainOfHostname(config.hostname)).toLowerCase();
  if (!(await store.getDomain(domain))) await store.addDomain(domain);
  const admin = (opts.admin ?? `postmaster@${domain}`).toLowerCase();
  const password = generatePassword();
  await store.addUser({ login: admin, address: admin, displayName: 'Administrator', isAdmin: true, credentials: await auth.deriveCredentials(password) });
  return { domain, admin, password };
}

export async function firstRun(store: Store, auth: Authenticator, config: Config, logger: Logger): Promise<void> {
  const made = await initializeStore(store, auth, config);
  if (!made) return;
  logger.info({ domain: made.domain, admin: made.admin }, 'first run: created the first domain and administrator');
  process.stdout.write(
    `\nmailroom: first run — created domain ${made.domain} and administrator ${made.admin}\n` +
      `          password: ${made.password}\n` +
      `          (shown once; change it with: mailroom user passwd ${made.admin})\n\n`,
  );
}
