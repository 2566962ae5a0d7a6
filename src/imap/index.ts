/**
 * imap/: mailroom's IMAP server, written as a library (there is no maintained
 * IMAP server library for Node).
 *
 * RFCs: IMAP4rev1 (3501) and IMAP4rev2 (9051); LITERAL+ (7888), SASL-IR (4959),
 * ID (2971), ENABLE (5161), IDLE (2177), NAMESPACE (2342), UIDPLUS (4315),
 * MOVE (6851), UNSELECT (3691), CHILDREN (3348), SPECIAL-USE and
 * CREATE-SPECIAL-USE (6154), LIST-EXTENDED (5258), LIST-STATUS (5819),
 * ESEARCH (4731), SEARCHRES (5182), CONDSTORE and QRESYNC (7162), SORT and
 * THREAD (5256), QUOTA (9208), APPENDLIMIT (7889), UTF8=ACCEPT (6855),
 * BINARY (3516), COMPRESS=DEFLATE (4978), STATUS=SIZE (8438), WITHIN (5032).
 *
 * Layout: parser/ turns bytes into commands (tested on bytes alone);
 * session.ts is the state machine; commands/ holds one small file per
 * command and the table; fetch/ renders FETCH from the delivery-time index;
 * selected.ts keeps a session's view of its mailbox in step with others.
 *
 * This file is the service: a plain listener (STARTTLS) and an implicit-TLS
 * listener, one Session per connection.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Readable } from 'node:stream';
import { ingest } from '../store/ingest.js';
import type { ListenerInfo, Service, ServiceContext } from '../service.js';
import { isAppendMessageLiteral } from './commands/append.js';
import { Connection } from './connection.js';
import { HeaderCache } from './fetch/header-cache.js';
import { CommandReader } from './parser/reader.js';
import { Session, type ImapContext } from './session.js';
import { MailboxWatchers } from './watchers.js';

/** Literals before login (user names, passwords) are small; session.ts raises the bound after login. */
const INLINE_LITERAL_BEFORE_LOGIN = 8 * 1024;

export function createImapService(ctx: ServiceContext): Service | null {
  const cfg = ctx.config.imap;
  if (!cfg.enabled) return null;
  const logger = ctx.logger.child({ service: 'imap' });
  const watchers = new MailboxWatchers(ctx.store.bus);
  let secureContext: tls.SecureContext | null = null;
  try {
    secureContext = ctx.tls && (ctx.tls.cert || ctx.tls.pfx) ? tls.createSecureContext(ctx.tls) : null;
  } catch (err) {
    logger.error({ err }, 'imap: TLS certificate unusable; STARTTLS and implicit TLS are off');
  }
  const imap: ImapContext = {
    service: ctx,
    logger,
    secureContext,
    watchers,
    appendLimit: cfg.maxLiteral,
    timeout: cfg.timeout,
    headerCache: new HeaderCache(),
    ingest: (source, maxBytes) => ingest(ctx.store.blobs, source as Readable | Buffer, { maxBytes }),
  };

  const servers: Array<{ server: net.Server; tls: 'starttls' | 'implicit'; port: number }> = [];
  const sessions = new Set<Session>();
  const sockets = new Set<net.Socket>();

  const handle = (socket: net.Socket, secure: boolean) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setNoDelay(true);
    let session: Session | null = null;
    const reader = new CommandReader({
      limits: { maxInlineLiteral: INLINE_LITERAL_BEFORE_LOGIN, maxStreamLiteral: cfg.maxLiteral, maxNonSyncLiteral: cfg.maxLiteral },
      // Only an authenticated client's APPEND message goes to the blob store as it arrives.
      streamLiteral: (prefix) => session !== null && session.state.kind !== 'notAuthenticated' && isAppendMessageLiteral(prefix),
    });
    const conn = new Connection(socket, reader, secure, () => {});
    session = new Session(imap, conn);
    const s = session;
    sessions.add(s);
    s.run()
      .catch((err: unknown) => logger.error({ err }, 'imap session crashed'))
      .finally(() => sessions.delete(s));
  };

  return {
    name: 'imap',
    async start() {
      watchers.start();
      const listen = async (port: number, kind: 'starttls' | 'implicit') => {
        const server =
          kind === 'implicit'
            ? tls.createServer({ ...ctx.tls }, (sock) => handle(sock, true))
            : net.createServer((sock) => handle(sock, false));
        server.on('error', (err) => logger.error({ err }, 'imap listener error'));
        if (kind === 'implicit') server.on('tlsClientError', () => {});
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, cfg.listen, () => {
            server.off('error', reject);
            resolve();
          });
        });
        const addr = server.address() as net.AddressInfo;
        servers.push({ server, tls: kind, port: addr.port });
        logger.info({ port: addr.port, tls: kind }, 'imap listening');
      };
      // Port 0 means "any free port" only in tests; a configured 0 tlsPort in production means off.
      await listen(cfg.port, 'starttls');
      if (secureContext && (cfg.tlsPort > 0 || cfg.port === 0)) await listen(cfg.tlsPort, 'implicit');
    },
    async stop() {
      for (const { server } of servers) server.close();
      for (const s of sessions) {
        s.send('* BYE Server shutting down');
        void s.conn.end();
      }
      const deadline = Date.now() + 3000;
      while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      for (const sock of sockets) sock.destroy();
      watchers.stop();
    },
    listeners(): ListenerInfo[] {
      return servers.map((x) => ({ name: 'imap', host: cfg.listen, port: x.port, tls: x.tls }));
    },
  };
}
