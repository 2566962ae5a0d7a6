/**
 * pop3/: the POP3 server. How most small offices' mail clients (Outlook,
 * Thunderbird, phones, fetchmail) read mail.
 *
 * Implements RFC 1939 (POP3: USER/PASS, APOP, STAT, LIST, RETR, DELE, NOOP, RSET,
 * QUIT with the UPDATE state, TOP, UIDL), RFC 2449 (CAPA, response codes,
 * PIPELINING, EXPIRE, LOGIN-DELAY, IMPLEMENTATION), RFC 2595 (STLS), RFC 3206
 * ([SYS/*], [AUTH], AUTH-RESP-CODE), RFC 5034 (AUTH with SASL), plus implicit
 * TLS on its own port (RFC 8314).
 *
 * The maildrop is the user's INBOX, snapshotted at login and locked through the
 * store (so across worker processes and nodes); see session.ts for the rules a
 * session keeps, retention.ts for server-side expiry.
 *
 * Layout: parser.ts (bytes -> lines -> commands), commands/ (the table, one small
 * function per command), session.ts (state machine and I/O), maildrop.ts (the
 * session's view of INBOX), dot-stuff.ts (multi-line bodies), errors.ts (every -ERR).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type SecureContext } from 'node:tls';
import type { ListenerInfo, Service, ServiceContext } from '../service.js';
import { errors } from './errors.js';
import { scheduleRetention } from './retention.js';
import { Pop3Session } from './session.js';

/** Open connections allowed from one address. */
export const MAX_CONNECTIONS_PER_IP = 50;

export function createPop3Service(ctx: ServiceContext): Service | null {
  const cfg = ctx.config.pop3;
  if (!cfg.enabled) return null;
  const logger = ctx.logger;
  const sessions = new Set<Pop3Session>();
  const perIp = new Map<string, number>();
  let secureContext: SecureContext | null = null;
  const servers: Array<{ server: Server; tls: 'starttls' | 'implicit' }> = [];
  let stopRetention: (() => void) | null = null;

  function accept(socket: Socket): void {
    const ip = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const count = (perIp.get(ip) ?? 0) + 1;
    perIp.set(ip, count);
    socket.setNoDelay(true);
    const session = new Pop3Session(socket, {
      ctx,
      logger,
      secureContext: 'encrypted' in socket ? null : secureContext,
      onEnd(s) {
        sessions.delete(s);
        const left = (perIp.get(ip) ?? 1) - 1;
        if (left > 0) perIp.set(ip, left);
        else perIp.delete(ip);
      },
    });
    sessions.add(session);
    if (count > MAX_CONNECTIONS_PER_IP) {
      session.log.warn({ connections: count }, 'too many connections from one address');
      session.refuse(errors.tooManyConnections());
      return;
    }
    session.log.debug('connect');
    session.greet();
  }

  function listen(server: Server, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, cfg.listen, () => {
        server.off('error', reject);
        server.on('error', (err) => logger.error({ err }, 'pop3 listener error'));
        resolve();
      });
    });
  }

  return {
    name: 'pop3',
    async start() {
      secureContext = createSecureContext(ctx.tls);
      const plain = createServer(accept);
      // tls.Server builds its own context from the options (it ignores `secureContext`).
      const implicit = createTlsServer({ ...ctx.tls }, accept);
      // A failed handshake on the TLS port is the client's problem, not ours: log it only.
      implicit.on('tlsClientError', (err) => logger.debug({ err: err.message }, 'tls handshake failed'));
      await listen(plain, cfg.port);
      servers.push({ server: plain, tls: 'starttls' });
      await listen(implicit, cfg.tlsPort);
      servers.push({ server: implicit, tls: 'implicit' });
      if (ctx.runsJobs && cfg.retentionDays > 0) stopRetention = scheduleRetention(ctx.store, cfg.retentionDays, logger);
      logger.info({ listeners: this.listeners() }, 'pop3 listening');
    },
    async stop() {
      stopRetention?.();
      stopRetention = null;
      const closed = servers.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve())));
      await Promise.all([...sessions].map((s) => s.shutdown()));
      await Promise.all(closed);
      servers.length = 0;
    },
    listeners(): ListenerInfo[] {
      return servers.map(({ server, tls }) => {
        const addr = server.address();
        return { name: 'pop3', host: cfg.listen, port: addr && typeof addr === 'object' ? addr.port : 0, tls };
      });
    },
  };
}
