/**
 * What server.ts hands every protocol service, and what a service gives back.
 * A protocol module exports `createXService(ctx: ServiceContext): Service` and
 * never imports a concrete store or another protocol module (DESIGN.md).
 */
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import type { Recipients, Route } from './delivery/types.js';
import type { Store } from './store/types.js';
import type { Authenticator } from './auth/types.js';

export interface ServiceContext {
  config: Config;
  store: Store;
  auth: Authenticator;
  /** The one entry for mail coming in (delivery/route.ts). */
  route: Route;
  /** The recipient lookups route() makes (RCPT-time checks, multi-drop sorting). */
  recipients: Recipients;
  logger: Logger;
  /** Certificate and key (PEM), for STARTTLS and implicit TLS listeners. */
  tls: SecureContextOptions;
  /** Whether this process runs singleton jobs (queue runner, fetch scheduler, retention). */
  runsJobs: boolean;
  /** Seals/unseals secrets at rest (fetch passwords). */
  secrets: { seal(plain: string): string; unseal(sealed: string): string };
}

export interface ListenerInfo {
  /**
   * The service's name in services.ts ('smtp', 'pop3', 'imap', ...); SMTP's
   * submission listeners are named 'submission'. Several listeners of one
   * service differ by `tls` (e.g. imap 'none' on 143, imap 'implicit' on 993).
   */
  name: string;
  host: string;
  port: number;
  tls: 'none' | 'starttls' | 'implicit';
}

export interface Service {
  readonly name: string;
  /** Start listening/working; resolves once ready. */
  start(): Promise<void>;
  /** Stop accepting, finish in-flight work (bounded), release resources. */
  stop(): Promise<void>;
  /** Where it listens (after start), for status and tests. */
  listeners(): ListenerInfo[];
}
