/**
 * The policy hooks of one SMTP listener, on top of smtp-server's protocol
 * state machine (greeting → EHLO → [STARTTLS → EHLO] → [AUTH] → MAIL → RCPT…
 * → DATA). Each hook checks one stage and answers with a reply from errors.ts.
 *
 * Rules kept here:
 * - At connect: per-IP connection limit, then allow/deny lists and blocked
 *   client hosts (554 5.7.1, connection closed).
 * - AUTH: only mechanisms the Authenticator offers on this connection (no
 *   plaintext password without TLS unless auth.plaintext allows it); every
 *   attempt goes through the Authenticator, so failures are throttled across
 *   protocols; three failures on one connection close it.
 * - Submission requires authentication (530 5.7.0); an authenticated sender
 *   may use only their own addresses (553 5.7.1) when submission.enforceSender.
 * - MAIL: message rate per IP, blocked HELO names, blocked senders (550 5.7.1).
 * - RCPT: relay policy (core/policy.ts) first, then for local addresses
 *   existence (550 5.1.1), disabled (550 5.2.1), full (452 4.2.2).
 * - Every refused command counts; past smtp.maxBadCommands the connection is
 *   closed with 421. An accepted message starts the count again (as Postfix's
 *   smtpd_hard_error_limit does), so a big list with a few stale addresses
 *   still gets through.
 */
import type { Logger } from 'pino';
import type { SMTPServerAddress, SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerSession } from 'smtp-server';
import type { LoginContext, LoginFailure, Protocol } from '../auth/types.js';
import { lookupKey, parseMailbox, type MailAddress } from '../core/address.js';
import { checkConnect, checkHelo, checkRecipient, checkSender, checkSubmissionSender, type CheckResult, type Reply } from '../core/policy.js';
import type { ServiceContext } from '../service.js';
import type { User } from '../store/types.js';
import { replies, smtpError, SmtpError, type SmtpReply } from './errors.js';
import type { SaslHooks } from './library.js';
import type { ConnectionCounter, MessageRate } from './limits.js';
import type { PolicyCache } from './policy-cache.js';

export type ListenerKind = 'mx' | 'submission' | 'submissions';

/** Failed AUTH attempts one connection may make before it is closed. */
export const MAX_AUTH_FAILURES_PER_CONNECTION = 3;

export type AuthState =
  | { kind: 'anonymous'; failures: number }
  | { kind: 'authenticated'; user: User; mechanism: string; /** lookup keys of the addresses they may send as */ own: Set<string> };

export interface SessionState {
  id: string;
  listener: ListenerKind;
  ip: string;
  log: Logger;
  auth: AuthState;
  /** Refused commands so far. */
  errors: number;
  /** Counted by the connection limiter (to release on close). */
  counted: boolean;
  /** The current transaction's sender (recipients are in smtp-server's envelope). */
  sender: MailAddress | null;
  declaredSize: number | undefined;
}

/** What session.user holds for smtp-server once logged in (it logs `username`). */
export interface SessionUser {
  username: string;
  userId: number;
}

export interface SessionDeps {
  ctx: ServiceContext;
  listener: ListenerKind;
  policy: PolicyCache;
  connections: ConnectionCounter;
  rate: MessageRate;
  sessions: Map<string, SessionState>;
}

function toError(r: Reply | SmtpReply): SmtpError {
  return smtpError({ code: r.code, enhanced: r.enhanced, text: r.text });
}

export function loginContext(session: SMTPServerSession, listener: ListenerKind): LoginContext {
  const protocol: Protocol = listener === 'mx' ? 'smtp' : 'submission';
  return { ip: session.remoteAddress, protocol, secure: !!session.secure };
}

export function createSessionHooks(deps: SessionDeps) {
  const { ctx, listener, policy, connections, rate, sessions } = deps;
  const { config } = ctx;
  const log = ctx.logger.child({ listener });

  function state(session: SMTPServerSession): SessionState {
    let s = sessions.get(session.id);
    if (!s) {
      s = {
        id: session.id,
        listener,
        ip: session.remoteAddress,
        log: log.child({ sid: session.id }),
        auth: { kind: 'anonymous', failures: 0 },
        errors: 0,
        counted: false,
        sender: null,
        declaredSize: undefined,
      };
      sessions.set(session.id, s);
    }
    return s;
  }

  /** A refused command: count it, and past the limit close the connection instead. */
  function refuse(s: SessionState, err: SmtpError, what: string): SmtpError {
    s.errors++;
    s.log.info({ reply: err.message, code: err.responseCode }, `${what} refused`);
    if (s.errors >= config.smtp.maxBadCommands && err.responseCode !== 421) return smtpError('tooManyErrors');
    return err;
  }

  function verdict(r: CheckResult): SmtpError | null {
    return r.kind === 'accept' ? null : toError(r.reply);
  }

  /** Run an async hook, turning unexpected errors into 451 (never a stack trace to the client). */
  function guard<A extends unknown[]>(name: string, fn: (...a: A) => Promise<void>) {
    return (...args: [...A, (err?: Error | null) => void]) => {
      const cb = args.pop() as (err?: Error | null) => void;
      fn(...(args as unknown as A)).then(
        () => cb(),
        (err: unknown) => {
          if (err instanceof SmtpError) return cb(err);
          log.error({ err, hook: name }, 'smtp hook failed');
          cb(smtpError('localError'));
        },
      );
    };
  }

  async function ownAddresses(user: User): Promise<Set<string>> {
    const own = new Set<string>();
    const add = (a: string) => {
      const p = parseMailbox(a);
      if (p.ok) own.add(lookupKey(p.address));
    };
    add(user.address);
    for (const a of await ctx.store.listAddresses(user.id)) add(a);
    // Aliases that deliver to the user directly are theirs to send as, too.
    const mine = new Set(own);
    for (const alias of await ctx.store.listAliases()) {
      if (alias.address.startsWith('@')) continue;
      if (alias.targets.some((t) => {
        const p = parseMailbox(t);
        return p.ok && mine.has(lookupKey(p.address));
      })) add(alias.address);
    }
    return own;
  }

  function failureReply(s: SessionState, result: LoginFailure): SmtpReply {
    if (s.auth.kind === 'anonymous') s.auth.failures++;
    const failures = s.auth.kind === 'anonymous' ? s.auth.failures : 0;
    s.log.info({ reason: result.reason, failures }, 'authentication failed');
    if (failures >= MAX_AUTH_FAILURES_PER_CONNECTION) return replies.authTooManyFailures;
    switch (result.reason) {
      case 'throttled':
        return replies.authThrottled;
      case 'tempfail':
        return replies.authTempfail;
      default:
        return replies.authInvalid;
    }
  }

  async function loggedIn(s: SessionState, user: User, mechanism: string): Promise<SessionUser> {
    s.auth = { kind: 'authenticated', user, mechanism, own: await ownAddresses(user) };
    s.log.info({ user: user.login, userId: user.id, mechanism }, 'authenticated');
    return { username: user.login, userId: user.id };
  }

  const onConnect = guard('connect', async (session: SMTPServerSession) => {
    const s = state(session);
    if (!connections.acquire(s.ip)) {
      s.log.warn({ ip: s.ip }, 'too many connections from this address');
      throw smtpError('tooManyConnections');
    }
    s.counted = true;
    const view = await policy.get();
    const v = checkConnect(view.access, s.ip, session.clientHostname);
    if (v.kind !== 'accept') {
      s.log.info({ ip: s.ip, host: session.clientHostname }, 'connection refused by access rules');
      throw toError(v.reply);
    }
    s.log.debug({ ip: s.ip, host: session.clientHostname }, 'connected');
  });

  /**
   * The authenticated identity, only while smtp-server agrees the session has
   * one: STARTTLS wipes smtp-server's (RFC 3207 4.2), and ours must go with it.
   */
  function authenticatedUser(session: SMTPServerSession, s: SessionState): Extract<AuthState, { kind: 'authenticated' }> | null {
    if (s.auth.kind !== 'authenticated') return null;
    if (!session.user) {
      s.auth = { kind: 'anonymous', failures: 0 };
      return null;
    }
    return s.auth;
  }

  /** After STARTTLS (and at connect on implicit TLS): forget everything learnt in the clear. */
  function onSecure(session: SMTPServerSession): void {
    const s = state(session);
    s.auth = { kind: 'anonymous', failures: s.auth.kind === 'anonymous' ? s.auth.failures : 0 };
    s.sender = null;
  }

  function onClose(session: SMTPServerSession): void {
    const s = sessions.get(session.id);
    if (!s) return;
    if (s.counted) connections.release(s.ip);
    sessions.delete(session.id);
  }

  function onAuth(auth: SMTPServerAuthentication, session: SMTPServerSession, cb: (err: Error | null | undefined, res?: SMTPServerAuthenticationResponse) => void): void {
    const s = state(session);
    const lc = loginContext(session, listener);
    const run = async (): Promise<SessionUser> => {
      if (!ctx.auth.mechanisms(lc).includes(auth.method)) throw smtpError('encryptionRequired');
      let result;
      if (auth.method === 'PLAIN' || auth.method === 'LOGIN') {
        // RFC 4616: an authorization identity other than the login would mean acting as someone else.
        if (auth.method === 'PLAIN' && auth.authzid && auth.authcid && auth.authzid.toLowerCase() !== auth.authcid.toLowerCase()) {
          throw smtpError(failureReply(s, { ok: false, reason: 'invalid' }));
        }
        result = await ctx.auth.verifyPassword(auth.username ?? '', auth.password ?? '', lc);
      } else if (auth.method === 'CRAM-MD5') {
        result = await ctx.auth.verifyCramMd5(auth.username ?? '', auth.challenge ?? '', auth.challengeResponse ?? '', lc);
      } else {
        throw smtpError({ code: 504, enhanced: '5.5.4', text: 'Unrecognized authentication type' });
      }
      if (!result.ok) throw smtpError(failureReply(s, result));
      return loggedIn(s, result.user, auth.method);
    };
    run().then(
      (user) => cb(null, { user }),
      (err: unknown) => {
        if (err instanceof SmtpError) return cb(err);
        s.log.error({ err }, 'authentication error');
        cb(smtpError('authTempfail'));
      },
    );
  }

  const saslHooks: SaslHooks = {
    start(session, mechanism) {
      const lc = loginContext(session, listener);
      if (!ctx.auth.mechanisms(lc).includes(mechanism)) return null;
      return ctx.auth.startSasl(mechanism, lc);
    },
    async succeeded(session, result) {
      return loggedIn(state(session), result.user, 'SCRAM-SHA-256');
    },
    failed(session, result) {
      return failureReply(state(session), result.result);
    },
    mechanisms(session) {
      return ctx.auth.mechanisms(loginContext(session, listener));
    },
  };

  const onMailFrom = guard('mail', async (address: SMTPServerAddress, session: SMTPServerSession) => {
    const s = state(session);
    s.sender = null;
    s.declaredSize = undefined;
    const authed = authenticatedUser(session, s);
    if (listener !== 'mx' && !authed) throw refuse(s, smtpError('authRequired'), 'MAIL');
    if (!rate.allowed(s.ip)) throw refuse(s, smtpError('rateLimited'), 'MAIL');
    const view = await policy.get();
    const helo = verdict(checkHelo(view.access, session.hostNameAppearsAs || null));
    if (helo) throw refuse(s, helo, 'MAIL (HELO name)');
    let sender: MailAddress | null = null;
    if (address.address !== '') {
      const parsed = parseMailbox(address.address);
      if (!parsed.ok) throw refuse(s, smtpError('badSender'), 'MAIL');
      sender = parsed.address;
    }
    const blocked = verdict(checkSender(view.access, sender));
    if (blocked) throw refuse(s, blocked, 'MAIL');
    if (authed && config.submission.enforceSender) {
      const own = verdict(checkSubmissionSender(sender, authed.own, config.smtp.subaddressSeparator));
      if (own) throw refuse(s, own, 'MAIL');
    }
    const size = address.args && typeof address.args.SIZE === 'string' ? Number(address.args.SIZE) : undefined;
    s.sender = sender;
    s.declaredSize = size && Number.isFinite(size) ? size : undefined;
  });

  const onRcptTo = guard('rcpt', async (address: SMTPServerAddress, session: SMTPServerSession) => {
    const s = state(session);
    const view = await policy.get();
    const raw = address.address;
    if (raw.toLowerCase() === 'postmaster') {
      // RFC 5321 4.1.1.3: the domainless postmaster is always ours.
      return;
    }
    const parsed = parseMailbox(raw);
    if (!parsed.ok) throw refuse(s, smtpError('badRecipient'), 'RCPT');
    const rcpt = parsed.address;
    const isLocal = !rcpt.ipLiteral && (await policy.isLocalDomain(rcpt.domain));
    const v = checkRecipient(view.relay, { ip: s.ip, authenticated: authenticatedUser(session, s) !== null }, rcpt, isLocal);
    if (v.kind === 'reject') {
      s.log.info({ rcpt: raw, routing: rcpt.routing }, 'recipient refused by relay policy');
      throw refuse(s, toError(v.reply), 'RCPT');
    }
    if (v.destination === 'local') {
      const check = await ctx.recipients.checkRcpt(raw, {
        size: s.declaredSize,
        isLocalDomain: (d) => policy.isLocalDomain(d),
      });
      if (check.kind !== 'accept') throw refuse(s, toError(check.reply), 'RCPT');
    }
  });

  return { onConnect, onSecure, onClose, onAuth, onMailFrom, onRcptTo, saslHooks, state, authenticatedUser };
}

export type SessionHooks = ReturnType<typeof createSessionHooks>;
