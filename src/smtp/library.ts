/**
 * Two small extensions to smtp-server, applied once when this module loads.
 *
 * 1. Enhanced status codes we choose ourselves. smtp-server derives the RFC
 *    3463 code of an error reply from its basic code (every 554 becomes 5.6.0,
 *    every 550 5.1.1), which is wrong for most policy replies (relay denied is
 *    5.7.1). A reply text that already starts with an enhanced code of the
 *    same class is now sent as given. Replies without one are untouched, so
 *    other users of smtp-server in the process (test fakes) see no change.
 *
 * 2. SASL mechanisms smtp-server does not implement (SCRAM-SHA-256, RFC 5802 /
 *    RFC 7677), driven by our Authenticator's SaslExchange. smtp-server looks
 *    mechanisms up as `SASL_<NAME>` on its sasl table; the added entry reaches
 *    our code through a hook stored on the SMTPServer instance, and answers
 *    504 on servers that did not install one.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import sasl from 'smtp-server/lib/sasl.js';
import type { SMTPServer, SMTPServerSession } from 'smtp-server';
import type { SaslExchange } from '../auth/types.js';
import type { SmtpReply } from './errors.js';

const ENHANCED = /^([245])\.\d{1,3}\.\d{1,3} /;
const PATCHED = Symbol.for('mailroom.smtp-server.patched');
const HOOKS = Symbol.for('mailroom.smtp-server.sasl-hooks');

/** What the added mechanisms need from the service, per SMTPServer instance. */
export interface SaslHooks {
  /** A new exchange for this session, or null if the mechanism is not allowed here. */
  start(session: SMTPServerSession, mechanism: string): SaslExchange | null;
  /** The value smtp-server keeps as session.user after success. */
  succeeded(session: SMTPServerSession, result: Extract<Awaited<ReturnType<SaslExchange['step']>>, { kind: 'success' }>): Promise<unknown>;
  /** The reply for a failure (a 421 closes the connection). */
  failed(session: SMTPServerSession, result: Extract<Awaited<ReturnType<SaslExchange['step']>>, { kind: 'failure' }>): SmtpReply;
  /**
   * Mechanisms allowed on this connection now. EHLO advertises only these,
   * and AUTH with another one is refused before any credential is sent
   * (RFC 4954 4: no plaintext mechanism without TLS unless configured).
   */
  mechanisms(session: SMTPServerSession): string[];
}

// The parts of SMTPConnection the bridge uses (runtime members the .d.ts keeps private).
interface Connection {
  session: SMTPServerSession;
  _server: SMTPServer & { [HOOKS]?: SaslHooks };
  _nextHandler: false | ((line: Buffer | string, done: () => void) => void);
  send(code: number, data?: string | string[], context?: string | false): void;
  _transmissionType(): string;
  _useEnhancedStatusCodes(): boolean;
}

type Send = Connection['send'];

function sendReply(conn: Connection, r: SmtpReply): void {
  conn.send(r.code, `${r.enhanced} ${r.text}`);
}

/** Strict base64 (RFC 4954 requires it); null if malformed. */
function decodeBase64(s: string): Buffer | null {
  if (s === '=') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return null;
  return Buffer.from(s, 'base64');
}

function runExchange(conn: Connection, hooks: SaslHooks, exchange: SaslExchange, response: Buffer | null, done: () => void): void {
  const next = (line: Buffer | string, cb: () => void) => {
    const text = line.toString().trim();
    if (text === '*') {
      conn.send(501, '5.0.0 Authentication aborted');
      return cb();
    }
    const data = decodeBase64(text);
    if (!data) {
      conn.send(501, '5.5.2 Invalid base64 data');
      return cb();
    }
    runExchange(conn, hooks, exchange, data, cb);
  };
  exchange.step(response).then(
    (r) => {
      if (r.kind === 'challenge') {
        conn._nextHandler = next;
        conn.send(334, r.data.toString('base64'));
        return done();
      }
      if (r.kind === 'failure') {
        sendReply(conn, hooks.failed(conn.session, r));
        return done();
      }
      const finish = (cb: () => void) => {
        hooks.succeeded(conn.session, r).then(
          (user) => {
            conn.session.user = user;
            conn.session.transmissionType = conn._transmissionType();
            conn.send(235, '2.7.0 Authentication successful');
            cb();
          },
          () => {
            conn.send(454, '4.7.0 Temporary authentication failure');
            cb();
          },
        );
      };
      if (r.data && r.data.length > 0) {
        // RFC 4954 4: SMTP has no room for data with success; it goes in a last
        // challenge, which the client answers with an empty line.
        conn._nextHandler = (line, cb) => {
          if (line.toString().trim() === '*') {
            conn.send(501, '5.0.0 Authentication aborted');
            return cb();
          }
          finish(cb);
        };
        conn.send(334, r.data.toString('base64'));
        return done();
      }
      finish(done);
    },
    () => {
      conn.send(454, '4.7.0 Temporary authentication failure');
      done();
    },
  );
}

function addMechanism(name: string): void {
  const table = sasl as unknown as Record<string, unknown>;
  const key = `SASL_${name}`;
  if (typeof table[key] === 'function') return;
  table[key] = function (this: Connection, args: string[], done: () => void) {
    const hooks = this._server[HOOKS];
    const exchange = hooks?.start(this.session, name) ?? null;
    if (!hooks || !exchange) {
      this.send(504, '5.5.4 Unrecognized authentication type');
      return done();
    }
    if (args.length > 1) {
      this.send(501, `5.5.4 Syntax: AUTH ${name} [initial-response]`);
      return done();
    }
    let initial: Buffer | null = null;
    if (args.length === 1) {
      initial = decodeBase64(args[0]!);
      if (!initial) {
        this.send(501, '5.5.2 Invalid base64 data');
        return done();
      }
    }
    runExchange(this, hooks, exchange, initial, done);
  };
}

export function installSaslHooks(server: SMTPServer, hooks: SaslHooks): void {
  (server as Connection['_server'])[HOOKS] = hooks;
}

/** The EHLO reply with its AUTH line cut down to what this connection may use. */
function filterEhlo(conn: Connection, hooks: SaslHooks, lines: string[]): string[] {
  const allowed = new Set(hooks.mechanisms(conn.session));
  return lines.flatMap((line) => {
    if (!/^AUTH /.test(line)) return [line];
    const mechs = line.split(' ').slice(1).filter((m) => allowed.has(m));
    return mechs.length ? [`AUTH ${mechs.join(' ')}`] : [];
  });
}

function patch(): void {
  const proto = SMTPConnection.prototype as unknown as Connection & {
    [PATCHED]?: true;
    handler_AUTH(command: Buffer, done: () => void): void;
  };
  if (proto[PATCHED]) return;
  proto[PATCHED] = true;
  const original: Send = proto.send;
  proto.send = function (this: Connection, code, data, context) {
    const hooks = this._server[HOOKS];
    if (hooks && code === 250 && Array.isArray(data)) return original.call(this, code, filterEhlo(this, hooks, data), context);
    if (context === undefined && typeof data === 'string') {
      const m = ENHANCED.exec(data);
      if (m && String(code)[0] === m[1]) {
        return original.call(this, code, this._useEnhancedStatusCodes() ? data : data.slice(m[0].length), false);
      }
    }
    return original.call(this, code, data, context);
  };
  const originalAuth = proto.handler_AUTH;
  proto.handler_AUTH = function (this: Connection, command: Buffer, done: () => void) {
    const hooks = this._server[HOOKS];
    const method = (command.toString().trim().split(/\s+/)[1] ?? '').toUpperCase();
    const known = this._server.options.authMethods.includes(method);
    if (hooks && known && !this.session.user && !hooks.mechanisms(this.session).includes(method)) {
      // Refuse before the client sends a password in the clear.
      if (this.session.secure) this.send(504, '5.5.4 Unrecognized authentication type');
      else this.send(538, '5.7.11 Encryption required for requested authentication mechanism');
      return done();
    }
    return originalAuth.call(this, command, done);
  };
  addMechanism('SCRAM-SHA-256');
}

patch();
