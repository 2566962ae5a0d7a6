/**
 * Loopback peers for the outbound tests and the queue bench (never used by the
 * server itself): a DNS server with a zone the test controls (MX, A, AAAA,
 * null MX, NXDOMAIN, SERVFAIL, silence), an SMTP sink on smtp-server whose
 * replies the test scripts, and a raw TCP "SMTP" server for what smtp-server
 * will not do (garbage replies, hangs, drops, a STARTTLS that breaks).
 *
 * The sink counts a message as received only once its 250 went out on a
 * connection that was still open: that is what "delivered exactly once" means
 * from the remote side.
 */
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import dns2 from 'dns2';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

// ------------------------------------------------------------------ DNS

export type ZoneEntry = {
  /** MX records; [] with `nullMx` for RFC 7505. */
  mx?: Array<{ exchange: string; priority: number }>;
  nullMx?: boolean;
  a?: string[];
  aaaa?: string[];
  /** Answer every query for this name with this error. */
  rcode?: 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED';
  /** Never answer (the client times out). */
  silent?: boolean;
};

export interface TestDns {
  port: number;
  /** "127.0.0.1:PORT", for config.smtp.dnsServers. */
  server: string;
  zone: Map<string, ZoneEntry>;
  queries: Array<{ name: string; type: string }>;
  close(): Promise<void>;
}

/** A DNS server on 127.0.0.1 (UDP) answering from `zone`; names not in it are NXDOMAIN. */
export async function startTestDns(zone: Record<string, ZoneEntry> = {}): Promise<TestDns> {
  // dns2's typings lack RCODE and the record shapes; the runtime has them.
  const Packet = dns2.Packet as any;
  const map = new Map(Object.entries(zone).map(([k, v]) => [k.toLowerCase(), v]));
  const queries: TestDns['queries'] = [];
  const typeName = (t: number) => Object.entries(Packet.TYPE).find(([, v]) => v === t)?.[0] ?? String(t);
  const server = dns2.createServer({
    udp: true,
    handle: (request: any, send: (r: any) => void) => {
      const response = Packet.createResponseFromRequest(request);
      const [q] = request.questions;
      const name = String(q.name).toLowerCase().replace(/\.$/, '');
      queries.push({ name, type: typeName(q.type) });
      const entry = map.get(name);
      if (entry?.silent) return;
      if (!entry) {
        response.header.rcode = Packet.RCODE.NXDOMAIN;
        return send(response);
      }
      if (entry.rcode) {
        response.header.rcode = Packet.RCODE[entry.rcode];
        return send(response);
      }
      const base = { name: q.name, class: Packet.CLASS.IN, ttl: 60 };
      if (q.type === Packet.TYPE.MX) {
        if (entry.nullMx) response.answers.push({ ...base, type: Packet.TYPE.MX, exchange: '', priority: 0 });
        for (const mx of entry.mx ?? []) response.answers.push({ ...base, type: Packet.TYPE.MX, exchange: mx.exchange, priority: mx.priority });
      } else if (q.type === Packet.TYPE.A) {
        for (const address of entry.a ?? []) response.answers.push({ ...base, type: Packet.TYPE.A, address });
      } else if (q.type === Packet.TYPE.AAAA) {
        for (const address of entry.aaaa ?? []) response.answers.push({ ...base, type: Packet.TYPE.AAAA, address });
      }
      send(response);
    },
  });
  const listening = once(server, 'listening');
  server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  await listening;
  const port = (server.addresses().udp as AddressInfo).port;
  return {
    port,
    server: `127.0.0.1:${port}`,
    zone: map,
    queries,
    close: async () => {
      await server.close();
    },
  };
}

// ------------------------------------------------------------------ SMTP sink

export interface SinkMessage {
  from: string;
  to: string[];
  raw: Buffer;
  secure: boolean;
  user: string | null;
  /** RFC 3461 parameters the client gave. */
  dsn: { ret: string | null; envid: string | null; notify: Record<string, string | null> };
  receivedAt: number;
}

export interface SinkReply {
  code: number;
  message: string;
}

export interface SinkOptions {
  /** Reply to MAIL FROM (null/undefined: accept). */
  mailFrom?: (address: string, session: SMTPServerSession) => SinkReply | null | undefined | Promise<SinkReply | null | undefined>;
  /** Reply to each RCPT TO (null/undefined: accept). */
  rcpt?: (address: string, session: SMTPServerSession) => SinkReply | null | undefined | Promise<SinkReply | null | undefined>;
  /** Reply after the final dot (null/undefined: 250); may wait (a slow remote). */
  data?: (msg: Omit<SinkMessage, 'receivedAt'>, session: SMTPServerSession) => SinkReply | null | undefined | Promise<SinkReply | null | undefined>;
  /** smtp-server answers 421 beyond this many concurrent connections. */
  maxClients?: number;
  /** Offer STARTTLS (smtp-server's built-in certificate). Default true. */
  starttls?: boolean;
  /** Require AUTH with these credentials (a smarthost). */
  auth?: { user: string; pass: string };
  /** Implicit TLS. */
  secure?: boolean;
  size?: number;
  /** Advertise DSN (RFC 3461). Default true. */
  dsn?: boolean;
  /** Keep received messages' bodies (default true; the bench turns it off). */
  keepBodies?: boolean;
}

export interface SmtpSink {
  port: number;
  messages: SinkMessage[];
  /** Connections open now, the most ever open at once, and all ever opened. */
  connections: { current: number; max: number; total: number };
  /** Count of accepted (250) deliveries per recipient. */
  deliveredTo(address: string): number;
  close(): Promise<void>;
}

function smtpError(r: SinkReply): Error {
  return Object.assign(new Error(r.message), { responseCode: r.code });
}

/** Whether mailroom's smtp-server extension (src/smtp/library.ts) is loaded in this process. */
function smtpServerPatched(): boolean {
  return Symbol.for('mailroom.smtp-server.patched') in (SMTPConnection.prototype as object);
}

export async function startSmtpSink(opts: SinkOptions = {}): Promise<SmtpSink> {
  const messages: SinkMessage[] = [];
  const connections = { current: 0, max: 0, total: 0 };
  const open = new Set<string>();
  const server = new SMTPServer({
    secure: opts.secure ?? false,
    name: 'sink.test',
    banner: 'sink ready',
    size: opts.size,
    disabledCommands: [...(opts.auth ? [] : ['AUTH']), ...(opts.starttls === false || opts.secure ? ['STARTTLS'] : [])],
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    maxClients: opts.maxClients,
    hideDSN: opts.dsn === false,
    // Replies go out exactly as scripted ("550 5.1.1 …"): with mailroom's smtp-server
    // extension loaded (src/smtp/library.ts) that needs ENHANCEDSTATUSCODES on,
    // without it smtp-server would add a second code, so it stays off.
    hideENHANCEDSTATUSCODES: !smtpServerPatched(),
    logger: false,
    disableReverseLookup: true,
    socketTimeout: 30_000,
    onConnect(session, cb) {
      open.add(session.id);
      connections.current++;
      connections.total++;
      connections.max = Math.max(connections.max, connections.current);
      cb();
    },
    onClose(session) {
      if (open.delete(session.id)) connections.current--;
    },
    onAuth(auth, _session, cb) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass) return cb(null, { user: auth.username });
      cb(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
    },
    onMailFrom(address, session, cb) {
      if (opts.auth && !session.user) return cb(Object.assign(new Error('Authentication required'), { responseCode: 530 }));
      Promise.resolve(opts.mailFrom?.(address.address, session)).then(
        (r) => cb(r ? smtpError(r) : undefined),
        (e) => cb(e as Error),
      );
    },
    onRcptTo(address, session, cb) {
      Promise.resolve(opts.rcpt?.(address.address, session)).then(
        (r) => cb(r ? smtpError(r) : undefined),
        (e) => cb(e as Error),
      );
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => {
        if (opts.keepBodies !== false) chunks.push(c);
      });
      stream.on('end', () => {
        const envelope = session.envelope as typeof session.envelope & { dsn?: { ret?: string; envid?: string } };
        const msg = {
          from: envelope.mailFrom ? envelope.mailFrom.address : '',
          to: envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          secure: Boolean(session.secure),
          user: (session.user as string | undefined) ?? null,
          dsn: {
            ret: envelope.dsn?.ret ?? null,
            envid: envelope.dsn?.envid ?? null,
            notify: Object.fromEntries(
              envelope.rcptTo.map((r) => [r.address, ((r as { dsn?: { notify?: string[] } }).dsn?.notify ?? null)?.join(',') ?? null]),
            ),
          },
        };
        Promise.resolve(opts.data?.(msg, session)).then(
          (r) => {
            if (r && r.code >= 300) return cb(smtpError(r));
            // Only a 250 that reaches an open connection counts as delivered.
            if (!open.has(session.id)) return cb(Object.assign(new Error('gone'), { responseCode: 451 }));
            messages.push({ ...msg, receivedAt: Date.now() });
            cb(null, r?.message ?? 'Ok: queued');
          },
          (e) => cb(e as Error),
        );
      });
    },
  });
  server.on('error', () => {
    /* a client that misbehaves must not crash the test */
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    messages,
    connections,
    deliveredTo: (address) => messages.reduce((n, m) => n + m.to.filter((t) => t.toLowerCase() === address.toLowerCase()).length, 0),
    close: () =>
      new Promise<void>((res) => {
        for (const c of server.connections as Set<{ close?: () => void; _socket?: Socket }>) c._socket?.destroy();
        server.close(() => res());
      }),
  };
}

// ------------------------------------------------------------------ raw scripted SMTP

export interface RawConnection {
  socket: Socket;
  write(line: string): void;
  /** Next line without its line end; null when the client closed. */
  readLine(): Promise<string | null>;
  /** Lines up to the lone ".", joined; null when the client closed first. */
  readData(): Promise<string | null>;
  close(): void;
}

export interface RawServer {
  port: number;
  connections: number;
  close(): Promise<void>;
}

/** A TCP server that runs `script` for each connection: full control over every byte. */
export async function startRawSmtp(script: (c: RawConnection) => Promise<void>): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  const server = createNetServer((socket) => {
    sockets.add(socket);
    state.connections++;
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = '';
    let closed = false;
    const waiters: Array<() => void> = [];
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      waiters.splice(0).forEach((w) => w());
    });
    socket.on('close', () => {
      closed = true;
      waiters.splice(0).forEach((w) => w());
    });
    const readLine = async (): Promise<string | null> => {
      for (;;) {
        const i = buf.indexOf('\n');
        if (i >= 0) {
          const line = buf.slice(0, i).replace(/\r$/, '');
          buf = buf.slice(i + 1);
          return line;
        }
        if (closed) return null;
        await new Promise<void>((r) => waiters.push(r));
      }
    };
    const conn: RawConnection = {
      socket,
      write: (line) => {
        if (!socket.destroyed) socket.write(line + '\r\n');
      },
      readLine,
      readData: async () => {
        const lines: string[] = [];
        for (;;) {
          const l = await readLine();
          if (l === null) return null;
          if (l === '.') return lines.join('\r\n');
          lines.push(l);
        }
      },
      close: () => socket.destroy(),
    };
    script(conn).catch(() => socket.destroy());
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}

/** The usual opening of a raw script: greeting and an EHLO answer. Returns false if the client left. */
export async function rawGreet(c: RawConnection, extensions: string[] = ['PIPELINING', '8BITMIME']): Promise<boolean> {
  c.write('220 raw.test ESMTP');
  const ehlo = await c.readLine();
  if (ehlo === null) return false;
  const lines = ['raw.test', ...extensions];
  lines.forEach((l, i) => c.write(`250${i === lines.length - 1 ? ' ' : '-'}${l}`));
  return true;
}
