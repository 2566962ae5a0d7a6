/**
 * A tiny scripted POP3 server for the client's and the poller's tests: enough
 * of RFC 1939/2449/2595 to be a real peer on a real socket, plus the ways a
 * provider misbehaves (drops the line mid-RETR, stalls, refuses UIDL, sends
 * bytes before the TLS handshake). Test code only.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';

export interface ResponderMessage {
  uid: string;
  /** CRLF message text (unstuffed; the responder stuffs it). */
  body: Buffer;
}

export interface ResponderOptions {
  user?: string;
  pass?: string;
  /** Greeting timestamp for APOP, e.g. "<1.2@test>"; none when omitted. */
  apop?: string;
  /** CAPA lines; null = answer -ERR to CAPA (an RFC 1939-only server). */
  capa?: string[] | null;
  /** Key+cert: offers STLS (and serves implicit TLS when implicitTls). */
  tls?: { key: string; cert: string };
  implicitTls?: boolean;
  /** Answer -ERR to UIDL. */
  noUidl?: boolean;
  /** Refuse USER (as some servers do) so only AUTH PLAIN works. */
  noUser?: boolean;
  /** Close the connection after sending part of this message (1-based number). */
  dropDuringRetr?: number;
  /** Never answer this command (upper-case name). */
  stallOn?: string;
  /** Split every write into pieces of this many bytes (exercises the client's chunk handling). */
  writeChunk?: number;
  /** Send this right after "+OK" to STLS, before the handshake (STARTTLS injection). */
  injectAfterStls?: string;
}

export interface Responder {
  port: number;
  /** The maildrop; deletions are applied at QUIT. */
  messages: ResponderMessage[];
  /** Every command line received, in order, across sessions. */
  log: string[];
  sessions: number;
  close(): Promise<void>;
}

function stuff(body: Buffer): Buffer {
  const text = body.toString('latin1');
  const lines = text.split('\r\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return Buffer.from(lines.map((l) => (l.startsWith('.') ? '.' + l : l) + '\r\n').join('') + '.\r\n', 'latin1');
}

export async function startResponder(messages: ResponderMessage[], opts: ResponderOptions = {}): Promise<Responder> {
  const user = opts.user ?? 'alice';
  const pass = opts.pass ?? 'secret';
  const capa = opts.capa === undefined ? ['TOP', 'UIDL', 'USER', 'PIPELINING', 'RESP-CODES', 'AUTH-RESP-CODE', 'SASL PLAIN', ...(opts.tls ? ['STLS'] : [])] : opts.capa;
  const state: Responder = { port: 0, messages, log: [], sessions: 0, close: async () => undefined };
  const sockets = new Set<net.Socket>();

  const serve = (socket: net.Socket) => {
    state.sessions++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let conn: net.Socket = socket;
    let authed = false;
    let userGiven: string | null = null;
    const deleted = new Set<number>();
    let buf = '';
    const send = (text: string | Buffer) => {
      const b = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
      if (!opts.writeChunk) {
        conn.write(b);
        return;
      }
      for (let i = 0; i < b.length; i += opts.writeChunk) conn.write(b.subarray(i, i + opts.writeChunk));
    };
    const line = (l: string) => send(l + '\r\n');
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      let nl: number;
      while ((nl = buf.indexOf('\r\n')) !== -1) {
        const cmdLine = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        handle(cmdLine);
      }
    };
    const handle = (cmdLine: string) => {
      state.log.push(cmdLine);
      const [rawCmd, ...args] = cmdLine.split(' ');
      const cmd = (rawCmd ?? '').toUpperCase();
      if (opts.stallOn === cmd) return;
      const msg = (n: string | undefined) => {
        const i = Number(n);
        return Number.isInteger(i) && i >= 1 && i <= state.messages.length && !deleted.has(i) ? i : 0;
      };
      switch (cmd) {
        case 'CAPA':
          if (!capa) return line('-ERR unknown command');
          line('+OK capability list follows');
          return send(capa.map((c) => c + '\r\n').join('') + '.\r\n');
        case 'STLS': {
          if (!opts.tls || conn instanceof tls.TLSSocket) return line('-ERR STLS not available');
          line('+OK Begin TLS negotiation' + (opts.injectAfterStls ? '\r\n' + opts.injectAfterStls : ''));
          conn.off('data', onData);
          const secure = new tls.TLSSocket(conn, { isServer: true, key: opts.tls.key, cert: opts.tls.cert });
          secure.on('error', () => undefined);
          secure.on('data', onData);
          conn = secure;
          return;
        }
        case 'USER':
          if (opts.noUser) return line('-ERR USER disabled, use AUTH');
          userGiven = args[0] ?? '';
          return line('+OK');
        case 'PASS':
          if (userGiven === user && args.join(' ') === pass) {
            authed = true;
            return line('+OK logged in');
          }
          return line('-ERR [AUTH] Authentication failed.');
        case 'APOP': {
          const want = createHash('md5').update((opts.apop ?? '') + pass).digest('hex');
          if (opts.apop && args[0] === user && args[1] === want) {
            authed = true;
            return line('+OK logged in');
          }
          return line('-ERR [AUTH] Authentication failed.');
        }
        case 'AUTH': {
          const token = args[1] ? Buffer.from(args[1], 'base64').toString('utf8') : '';
          if ((args[0] ?? '').toUpperCase() === 'PLAIN' && token === `\0${user}\0${pass}`) {
            authed = true;
            return line('+OK logged in');
          }
          return line('-ERR [AUTH] Authentication failed.');
        }
        case 'QUIT': {
          if (authed) {
            state.messages = state.messages.filter((_, i) => !deleted.has(i + 1));
          }
          line('+OK bye');
          conn.end();
          return;
        }
      }
      if (!authed) return line('-ERR not logged in');
      switch (cmd) {
        case 'STAT': {
          const live = state.messages.filter((_, i) => !deleted.has(i + 1));
          return line(`+OK ${live.length} ${live.reduce((a, m) => a + m.body.length, 0)}`);
        }
        case 'UIDL':
          if (opts.noUidl) return line('-ERR unknown command');
          line('+OK');
          return send(state.messages.map((m, i) => (deleted.has(i + 1) ? '' : `${i + 1} ${m.uid}\r\n`)).join('') + '.\r\n');
        case 'LIST':
          line('+OK');
          return send(state.messages.map((m, i) => (deleted.has(i + 1) ? '' : `${i + 1} ${m.body.length}\r\n`)).join('') + '.\r\n');
        case 'RETR': {
          const i = msg(args[0]);
          if (!i) return line('-ERR no such message');
          const wire = Buffer.concat([Buffer.from(`+OK ${state.messages[i - 1]!.body.length} octets\r\n`), stuff(state.messages[i - 1]!.body)]);
          if (opts.dropDuringRetr === i) {
            conn.write(wire.subarray(0, Math.floor(wire.length / 2)), () => conn.destroy());
            return;
          }
          return send(wire);
        }
        case 'DELE': {
          const i = msg(args[0]);
          if (!i) return line('-ERR no such message');
          deleted.add(i);
          return line('+OK deleted');
        }
        case 'RSET':
          deleted.clear();
          return line('+OK');
        case 'NOOP':
          return line('+OK');
        default:
          return line('-ERR unknown command');
      }
    };
    conn.on('data', onData);
    line(`+OK test POP3 ready${opts.apop ? ' ' + opts.apop : ''}`);
  };

  const server =
    opts.implicitTls && opts.tls
      ? tls.createServer({ key: opts.tls.key, cert: opts.tls.cert }, serve)
      : net.createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}
