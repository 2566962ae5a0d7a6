/**
 * smtp/: mail coming in over SMTP, on three listeners:
 * - MX (port 25; 2525 unprivileged): mail for our domains from anywhere,
 *   relaying only as core/policy.ts allows (RFC 5321);
 * - submission with STARTTLS (587; 2587) and submission over implicit TLS
 *   (465; 2465): our users' outgoing mail, authentication required
 *   (RFC 6409, RFC 8314, RFC 3207).
 * ESMTP extensions: PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC
 * 6152), SMTPUTF8 (RFC 6531), ENHANCEDSTATUSCODES (RFC 2034/3463), STARTTLS,
 * AUTH (RFC 4954: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256 as configured), DSN
 * (RFC 3461).
 *
 * The protocol engine is smtp-server; the decisions are ours: session.ts
 * (connect, AUTH, MAIL, RCPT policy), data.ts (DATA to a durable message),
 * core/policy.ts (relay and access rules), delivery/route.ts (where it goes).
 */
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { ListenerInfo, Service, ServiceContext } from '../service.js';
import { createDnsResolver, createReverseResolver } from './authenticate.js';
import { createDataHandler } from './data.js';
import { replies } from './errors.js';
import { installSaslHooks } from './library.js';
import { ConnectionCounter, MessageRate } from './limits.js';
import { PolicyCache } from './policy-cache.js';
import { createSessionHooks, type ListenerKind, type SessionState } from './session.js';

/** Longest command line accepted (Postfix's line_length_limit; RFC 5321 4.5.3.1.4 asks for at least 512). */
const MAX_COMMAND_LINE = 2048;
/** How long stop() lets messages in progress finish before the connections are cut. */
const STOP_GRACE_MS = 10_000;

interface Listener {
  kind: ListenerKind;
  name: string;
  host: string;
  port: number;
  tls: ListenerInfo['tls'];
  server: SMTPServer;
  bound: number;
}

export function createSmtpService(ctx: ServiceContext): Service | null {
  const { config } = ctx;
  const wanted: Array<{ kind: ListenerKind; name: string; host: string; port: number; tls: ListenerInfo['tls'] }> = [];
  if (config.smtp.enabled) wanted.push({ kind: 'mx', name: 'smtp', host: config.smtp.listen, port: config.smtp.port, tls: 'starttls' });
  if (config.submission.enabled) {
    wanted.push({ kind: 'submission', name: 'submission', host: config.submission.listen, port: config.submission.port, tls: 'starttls' });
    wanted.push({ kind: 'submissions', name: 'submission', host: config.submission.listen, port: config.submission.tlsPort, tls: 'implicit' });
  }
  // Port 0 means "off" in the file; the test harness asks for ephemeral ports by
  // setting 0 too, and it wants them on, so 0 is ephemeral unless disabled.
  if (wanted.length === 0) return null;

  const policy = new PolicyCache(ctx.store, { relayAuthenticated: config.relay.authenticated, ttlMs: config.smtp.policyCacheSeconds * 1000 });
  const connections = new ConnectionCounter(config.smtp.maxConnectionsPerIp);
  const rate = new MessageRate(config.smtp.maxMessagesPerMinutePerIp);
  const resolve = createDnsResolver(config.smtp.dnsServers);
  const reverse = createReverseResolver(config.smtp.dnsServers);
  const sessions = new Map<string, SessionState>();
  const busy = new Set<string>();
  const log = ctx.logger;
  let listeners: Listener[] = [];

  function build(kind: ListenerKind): SMTPServer {
    const hooks = createSessionHooks({ ctx, listener: kind, policy, connections, rate, sessions });
    const onData = createDataHandler({ ctx, listener: kind, resolve, rate, busy, state: hooks.state, authenticatedUser: hooks.authenticatedUser });
    const options: SMTPServerOptions = {
      ...ctx.tls,
      name: config.hostname,
      banner: config.smtp.banner ?? 'mailroom',
      secure: kind === 'submissions',
      size: config.smtp.maxMessageSize || undefined,
      rejectOversized: true,
      authMethods: config.auth.mechanisms,
      authOptional: kind === 'mx',
      // Whether a mechanism may be used without TLS is decided per connection by the
      // Authenticator (auth.plaintext), through the hooks in library.ts.
      allowInsecureAuth: true,
      hideSTARTTLS: false,
      hidePIPELINING: false,
      hide8BITMIME: false,
      hideSMTPUTF8: false,
      hideENHANCEDSTATUSCODES: false,
      hideDSN: false,
      hideREQUIRETLS: true,
      resolver: reverse,
      logger: false,
      socketTimeout: config.smtp.timeout * 1000,
      closeTimeout: STOP_GRACE_MS,
      maxAllowedUnauthenticatedCommands: kind === 'mx' ? false : config.smtp.maxUnauthenticatedCommands,
      maxCommandLength: MAX_COMMAND_LINE,
      maxRecipients: config.smtp.maxRecipients,
      onConnect: hooks.onConnect,
      onSecure: (_socket, session, cb) => {
        hooks.onSecure(session);
        cb();
      },
      onAuth: hooks.onAuth,
      onMailFrom: hooks.onMailFrom,
      onRcptTo: hooks.onRcptTo,
      onData,
      onClose: (session) => hooks.onClose(session),
    };
    const server = new SMTPServer(options);
    installSaslHooks(server, hooks.saslHooks);
    server.on('error', (err: Error & { code?: string }) => {
      // Per-connection trouble (resets, TLS handshakes that fail) is routine on an MX.
      log.debug({ err: { message: err.message, code: err.code }, listener: kind }, 'connection error');
    });
    return server;
  }

  return {
    name: 'smtp',
    async start() {
      const started: Listener[] = [];
      try {
        for (const w of wanted) {
          const server = build(w.kind);
          const bound = await new Promise<number>((resolvePort, reject) => {
            const onError = (err: Error) => reject(err);
            server.server.once('error', onError);
            server.listen(w.port, w.host, () => {
              server.server.off('error', onError);
              const addr = server.server.address();
              resolvePort(typeof addr === 'object' && addr ? addr.port : w.port);
            });
          });
          started.push({ ...w, server, bound });
          log.info({ listener: w.kind, host: w.host, port: bound, tls: w.tls }, 'listening');
        }
      } catch (err) {
        await Promise.all(started.map((l) => new Promise<void>((r) => l.server.close(() => r()))));
        throw err;
      }
      listeners = started;
    },
    async stop() {
      const closing = listeners.map(
        (l) =>
          new Promise<void>((r) => {
            l.server.close(() => r());
            // Idle sessions go now; sessions in the middle of a message get the grace period.
            for (const conn of l.server.connections) {
              const c = conn as unknown as { session?: { id?: string }; send(code: number, text: string): void };
              if (!c.session?.id || !busy.has(c.session.id)) c.send(421, `${replies.shuttingDown.enhanced} ${replies.shuttingDown.text}`);
            }
          }),
      );
      await Promise.all(closing);
      listeners = [];
    },
    listeners() {
      return listeners.map((l) => ({ name: l.name, host: l.host, port: l.bound, tls: l.tls }));
    },
  };
}
