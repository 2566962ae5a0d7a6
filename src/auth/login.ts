/**
 * The gate every login passes, whatever the mechanism: throttle check, user
 * lookup, the mechanism's own check, then counting and logging the outcome.
 *
 * Rules it keeps:
 * - A throttled client or account is refused before anything is verified
 *   (the client's throttle is checked even before the store is asked).
 * - A login that does not exist goes through the same steps as one that does
 *   (the mechanism verifies against dummy material), and fails the same way.
 * - A disabled account is reported only after its password was verified, so
 *   'disabled' tells nothing to someone who does not know the password.
 * - Store trouble is 'tempfail' and is not counted as a failure.
 * - One log line per failure: protocol, ip, login, mechanism, reason.
 */
import type { Logger } from 'pino';
import type { Store, User, UserCredentials } from '../store/types.js';
import type { LoginContext, LoginFailure, LoginResult } from './types.js';
import { throttleKeyForIp } from './address.js';
import type { LoginThrottle } from './throttle.js';

/** Longest login we look up (an address is at most 320 octets, RFC 5321 4.5.3.1). */
const MAX_LOGIN = 320;

export interface Attempt {
  readonly login: string;
  readonly mechanism: string;
  readonly ctx: LoginContext;
  /** null when the login does not exist (the mechanism still verifies, against dummy material). */
  readonly user: User | null;
  readonly creds: UserCredentials | null;
  readonly ipKey: string;
  readonly accountKey: string;
}

export type Begin = { ok: true; attempt: Attempt } | { ok: false; result: LoginFailure };

/** Throttle key of an account named by what the client typed. */
export function accountKeyFor(login: string): string {
  return login.toLowerCase();
}

/**
 * The user a login names: a login name, else one of the user's addresses
 * (so alice can log in as "alice" or "alice@example.org"). Never a catch-all.
 */
export async function lookupLogin(store: Store, login: string): Promise<User | null> {
  if (login.length === 0 || login.length > MAX_LOGIN || /[\x00-\x1f\x7f]/.test(login)) return null;
  const byLogin = (await store.getUserByLogin(login)) ?? (login !== login.toLowerCase() ? await store.getUserByLogin(login.toLowerCase()) : null);
  if (byLogin) return byLogin;
  const at = login.lastIndexOf('@');
  if (at <= 0 || at === login.length - 1) return null;
  const address = login.slice(0, at) + '@' + login.slice(at + 1).toLowerCase();
  let r = await store.resolveAddress(address);
  if (r.kind !== 'user' && address !== address.toLowerCase()) r = await store.resolveAddress(address.toLowerCase());
  if (r.kind !== 'user') return null;
  // resolveAddress may answer through a catch-all; a login must name one of the user's own addresses.
  const own = await store.listAddresses(r.user.id);
  const wanted = address.toLowerCase();
  return own.some((a) => a.toLowerCase() === wanted) || r.user.address.toLowerCase() === wanted ? r.user : null;
}

export class LoginGate {
  constructor(
    private readonly store: Store,
    readonly throttle: LoginThrottle,
    private readonly logger?: Logger,
  ) {}

  /** Seconds until this client (and login) may try again. */
  waitFor(ip: string, login?: string): number {
    return this.throttle.waitFor(throttleKeyForIp(ip), login === undefined ? undefined : accountKeyFor(login));
  }

  async begin(login: string, ctx: LoginContext, mechanism: string): Promise<Begin> {
    const ipKey = throttleKeyForIp(ctx.ip);
    const ipWait = this.throttle.ips.tryReserve(ipKey);
    if (ipWait > 0) return { ok: false, result: this.throttled(login, ctx, mechanism, ipWait) };

    let user: User | null;
    let creds: UserCredentials | null = null;
    try {
      user = await lookupLogin(this.store, login);
    } catch (err) {
      this.throttle.ips.release(ipKey, 'none');
      return { ok: false, result: this.tempfail(login, ctx, mechanism, err) };
    }
    const accountKey = user ? accountKeyFor(user.login) : accountKeyFor(login);
    const accountWait = this.throttle.accounts.tryReserve(accountKey);
    if (accountWait > 0) {
      this.throttle.ips.release(ipKey, 'none');
      return { ok: false, result: this.throttled(login, ctx, mechanism, accountWait) };
    }
    if (user) {
      try {
        creds = await this.store.getCredentials(user.id);
      } catch (err) {
        this.throttle.ips.release(ipKey, 'none');
        this.throttle.accounts.release(accountKey, 'none');
        return { ok: false, result: this.tempfail(login, ctx, mechanism, err) };
      }
    }
    return { ok: true, attempt: { login, mechanism, ctx, user, creds, ipKey, accountKey } };
  }

  /**
   * For mechanisms whose check comes one network round trip after the login is
   * known (SCRAM): look the login up now, reserving nothing (a client that
   * walks away must not leave a reservation behind); `settle` then reserves,
   * verifies and counts in one synchronous step.
   */
  async prepare(login: string, ctx: LoginContext, mechanism: string): Promise<Begin> {
    const ipKey = throttleKeyForIp(ctx.ip);
    const ipWait = this.throttle.ips.waitFor(ipKey);
    if (ipWait > 0) return { ok: false, result: this.throttled(login, ctx, mechanism, ipWait) };
    let user: User | null;
    let creds: UserCredentials | null = null;
    try {
      user = await lookupLogin(this.store, login);
      if (user) creds = await this.store.getCredentials(user.id);
    } catch (err) {
      return { ok: false, result: this.tempfail(login, ctx, mechanism, err) };
    }
    const accountKey = user ? accountKeyFor(user.login) : accountKeyFor(login);
    const accountWait = this.throttle.accounts.waitFor(accountKey);
    if (accountWait > 0) return { ok: false, result: this.throttled(login, ctx, mechanism, accountWait) };
    return { ok: true, attempt: { login, mechanism, ctx, user, creds, ipKey, accountKey } };
  }

  /** Finish a prepared attempt: throttle check, `verify()` and counting, with no await in between. */
  settle(a: Attempt, verify: () => boolean): LoginResult {
    const ipWait = this.throttle.ips.tryReserve(a.ipKey);
    if (ipWait > 0) return this.throttled(a.login, a.ctx, a.mechanism, ipWait);
    const accountWait = this.throttle.accounts.tryReserve(a.accountKey);
    if (accountWait > 0) {
      this.throttle.ips.release(a.ipKey, 'none');
      return this.throttled(a.login, a.ctx, a.mechanism, accountWait);
    }
    return this.finish(a, verify());
  }

  /** Record the mechanism's verdict on an attempt from `begin`. */
  finish(a: Attempt, verified: boolean): LoginResult {
    if (!verified || !a.user) {
      this.throttle.ips.release(a.ipKey, 'failure');
      this.throttle.accounts.release(a.accountKey, 'failure');
      this.logFailure(a.login, a.ctx, a.mechanism, a.user ? 'invalid' : 'invalid (no such login)');
      return { ok: false, reason: 'invalid' };
    }
    if (!a.user.enabled) {
      // The password was right: not a guess, so not counted.
      this.throttle.ips.release(a.ipKey, 'none');
      this.throttle.accounts.release(a.accountKey, 'none');
      this.logFailure(a.login, a.ctx, a.mechanism, 'disabled');
      return { ok: false, reason: 'disabled' };
    }
    this.throttle.ips.release(a.ipKey, 'success');
    this.throttle.accounts.release(a.accountKey, 'success');
    this.logger?.debug({ protocol: a.ctx.protocol, ip: a.ctx.ip, login: shown(a.login), mechanism: a.mechanism, userId: a.user.id }, 'login');
    return { ok: true, user: a.user };
  }

  /** Give up on an attempt for a reason that is not the client's fault. */
  abort(a: Attempt, err: unknown): LoginFailure {
    this.throttle.ips.release(a.ipKey, 'none');
    this.throttle.accounts.release(a.accountKey, 'none');
    return this.tempfail(a.login, a.ctx, a.mechanism, err);
  }

  /**
   * Refuse an attempt that is wrong on its face (malformed SASL data, a foreign
   * authzid): nothing is verified, but it counts against the client.
   */
  refuse(login: string, ctx: LoginContext, mechanism: string, detail: string): LoginFailure {
    const ipKey = throttleKeyForIp(ctx.ip);
    const wait = this.throttle.ips.waitFor(ipKey);
    if (wait > 0) return this.throttled(login, ctx, mechanism, wait);
    this.throttle.ips.release(ipKey, 'failure', false);
    this.logFailure(login, ctx, mechanism, detail);
    return { ok: false, reason: 'invalid' };
  }

  private throttled(login: string, ctx: LoginContext, mechanism: string, retryAfter: number): LoginFailure {
    this.logFailure(login, ctx, mechanism, 'throttled', { retryAfter });
    return { ok: false, reason: 'throttled', retryAfter };
  }

  private tempfail(login: string, ctx: LoginContext, mechanism: string, err: unknown): LoginFailure {
    this.logger?.error({ protocol: ctx.protocol, ip: ctx.ip, login: shown(login), mechanism, err }, 'auth tempfail');
    return { ok: false, reason: 'tempfail' };
  }

  private logFailure(login: string, ctx: LoginContext, mechanism: string, reason: string, extra?: object): void {
    this.logger?.info({ protocol: ctx.protocol, ip: ctx.ip, login: shown(login), mechanism, reason, ...extra }, 'auth failed');
  }
}

/** A login as it may appear in a log line: bounded. */
function shown(login: string): string {
  return login.length > 100 ? login.slice(0, 100) + '…' : login;
}
