/**
 * The composition root: opens the store, builds the shared services (auth,
 * route), starts every enabled protocol service, and stops them in reverse.
 * The only file that knows every module (DESIGN.md).
 *
 * Rules it keeps:
 * - Nothing listens before the store is open and migrated.
 * - stop() stops accepting first (services in reverse order, each finishing
 *   its in-flight work within its own bound), then closes the store.
 * - Singleton jobs (queue runner, fetch scheduler, retention) run only where
 *   runsJobs is true: one process per node; nodes coordinate through the store.
 */
import { mkdirSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import { createAuthenticator } from './auth/index.js';
import { createSecrets, loadOrCreateSecretKey } from './auth/secrets.js';
import type { Authenticator } from './auth/types.js';
import type { LoadedConfig } from './config/load.js';
import { createRecipients, createRoute } from './delivery/route.js';
import type { Route } from './delivery/types.js';
import { ensureCertificate, loadTlsOptions } from './net/tls.js';
import type { ListenerInfo, Service, ServiceContext } from './service.js';
import { serviceFactories } from './services.js';
import { openStore } from './store/open.js';
import type { ChangeBus, Store } from './store/types.js';
import { firstRun } from './bootstrap.js';

export interface RunningServer {
  store: Store;
  auth: Authenticator;
  route: Route;
  logger: Logger;
  context: ServiceContext;
  services: Service[];
  listeners(): ListenerInfo[];
  stop(): Promise<void>;
}

export interface StartOptions {
  bus?: ChangeBus;
  runsJobs?: boolean;
  logger?: Logger;
  /** Only these services (names in services.ts); default all. */
  services?: string[];
  /** On a fresh data directory, create the first domain and admin user (and print the password). */
  firstRun?: boolean;
}

export function createLogger(loaded: LoadedConfig): Logger {
  const { log } = loaded.config;
  if (log.file) {
    return pino({ level: log.level, base: { pid: process.pid } }, pino.destination({ dest: loaded.dataPath(log.file), mkdir: true, sync: false }));
  }
  return pino({ level: log.level, base: { pid: process.pid } });
}

/** Data directory, secret key and certificate: what every process needs before the store. */
export async function prepareDataDir(loaded: LoadedConfig): Promise<{ secrets: ServiceContext['secrets']; certCreated: boolean }> {
  const { config } = loaded;
  mkdirSync(loaded.dataDir, { recursive: true });
  const key = loadOrCreateSecretKey(loaded.dataPath(config.secretKeyFile));
  const certCreated = await ensureCertificate(loaded.dataPath(config.tls.cert), loaded.dataPath(config.tls.key), config.hostname);
  return { secrets: createSecrets(key), certCreated };
}

export async function startServer(loaded: LoadedConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const { config } = loaded;
  const logger = opts.logger ?? createLogger(loaded);
  const { secrets } = await prepareDataDir(loaded);
  const tls = loadTlsOptions(loaded.dataPath(config.tls.cert), loaded.dataPath(config.tls.key), config.tls.minVersion);
  const store = await openStore(loaded, { bus: opts.bus });
  const auth = createAuthenticator({ store, config, secrets, logger: logger.child({ module: 'auth' }) });
  if (opts.firstRun) await firstRun(store, auth, config, logger);
  const route = createRoute({ store, config, logger: logger.child({ module: 'route' }) });
  const recipients = createRecipients(store, config);
  const context: ServiceContext = { config, store, auth, route, recipients, logger, tls, runsJobs: opts.runsJobs ?? true, secrets };

  const services: Service[] = [];
  const stopAll = async () => {
    for (const s of [...services].reverse()) {
      try {
        await s.stop();
      } catch (err) {
        logger.error({ err, service: s.name }, 'service did not stop cleanly');
      }
    }
  };
  try {
    for (const { name, create } of serviceFactories) {
      if (opts.services && !opts.services.includes(name)) continue;
      const service = create({ ...context, logger: logger.child({ module: name }) });
      if (!service) continue;
      await service.start();
      services.push(service);
    }
  } catch (err) {
    await stopAll();
    await store.close().catch(() => {});
    throw err;
  }

  let stopped: Promise<void> | null = null;
  return {
    store,
    auth,
    route,
    logger,
    context,
    services,
    listeners: () => services.flatMap((s) => s.listeners()),
    stop() {
      stopped ??= (async () => {
        await stopAll();
        await store.close();
      })();
      return stopped;
    },
  };
}
