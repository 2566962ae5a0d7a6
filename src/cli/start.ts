/**
 * `mailroom start`: one process, or a primary with N workers (node:cluster)
 * sharing the listening sockets and the store (DESIGN.md "Scaling up and out").
 *
 * Rules:
 * - The primary prepares the data directory, migrates the store and does the
 *   first run before any worker starts, so workers never race on migrations.
 * - Worker 1 runs the singleton jobs (queue, fetch scheduler, retention); a
 *   worker that dies is replaced (with a pause if it keeps dying).
 * - SIGTERM/SIGINT: stop accepting, finish in-flight work, close the store, exit 0.
 * - When ready, one log line "ready" lists the listeners, and status.json in the
 *   data directory records them for `mailroom status`.
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { rmSync, writeFileSync } from 'node:fs';
import type { LoadedConfig } from '../config/load.js';
import { relayChangesBetweenWorkers, WorkerBus } from '../net/cluster-bus.js';
import { createLogger, prepareDataDir, startServer } from '../server.js';
import type { ListenerInfo } from '../service.js';
import { openStore } from '../store/open.js';
import { createAuthenticator } from '../auth/index.js';
import { firstRun } from '../bootstrap.js';

type ReadyMessage = { type: 'mailroom:ready'; listeners: ListenerInfo[] };

function statusFile(loaded: LoadedConfig): string {
  return loaded.dataPath('status.json');
}

function writeStatus(loaded: LoadedConfig, listeners: ListenerInfo[], workers: number): void {
  const body = { pid: process.pid, startedAt: new Date().toISOString(), workers, listeners, config: loaded.path };
  writeFileSync(statusFile(loaded), JSON.stringify(body, null, 2) + '\n');
}

export function resolveWorkers(loaded: LoadedConfig, flag?: number): number {
  const n = flag ?? loaded.config.workers;
  return n === 0 ? availableParallelism() : n;
}

export async function runStart(loaded: LoadedConfig, opts: { workers?: number }): Promise<void> {
  const workers = resolveWorkers(loaded, opts.workers);
  if (cluster.isWorker) return runWorker(loaded);
  const logger = createLogger(loaded);

  if (workers <= 1) {
    const server = await startServer(loaded, { logger, firstRun: true, runsJobs: true });
    const listeners = server.listeners();
    writeStatus(loaded, listeners, 1);
    logger.info({ listeners, dataDir: loaded.dataDir }, 'ready');
    onSignals(async () => {
      logger.info('shutting down');
      await server.stop();
      rmSync(statusFile(loaded), { force: true });
    }, logger);
    return;
  }

  // Primary: prepare once, then fork.
  const { secrets } = await prepareDataDir(loaded);
  const store = await openStore(loaded);
  await firstRun(store, createAuthenticator({ store, config: loaded.config, secrets }), loaded.config, logger);
  await store.close();
  relayChangesBetweenWorkers();

  let stopping = false;
  let everReady = false;
  const ready = new Set<number>();
  let listeners: ListenerInfo[] = [];
  const recentDeaths: number[] = [];
  const fork = (runsJobs: boolean) => {
    const w = cluster.fork({ MAILROOMD_WORKER_JOBS: runsJobs ? '1' : '0', MAILROOMD_WORKERS_TOTAL: String(workers) });
    w.on('message', (m: ReadyMessage) => {
      if (m?.type !== 'mailroom:ready') return;
      ready.add(w.id);
      listeners = m.listeners;
      if (ready.size === workers) {
        everReady = true;
        writeStatus(loaded, listeners, workers);
        logger.info({ listeners, workers, dataDir: loaded.dataDir }, 'ready');
      }
    });
    w.on('exit', (code, signal) => {
      ready.delete(w.id);
      if (stopping) return;
      if (!everReady) {
        // Failing at start-up (a port in use, a bad certificate): restarting would fail
        // the same way forever. The worker printed why; stop everything and say so.
        stopping = true;
        logger.error({ worker: w.id, code }, 'a worker could not start; stopping');
        process.stderr.write('mailroom: a worker could not start (see the error above); stopping\n');
        for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGTERM');
        process.exitCode = 1;
        return;
      }
      logger.error({ worker: w.id, code, signal }, 'worker exited; starting a new one');
      const now = Date.now();
      recentDeaths.push(now);
      while (recentDeaths.length && recentDeaths[0]! < now - 60_000) recentDeaths.shift();
      setTimeout(() => fork(runsJobs), recentDeaths.length > 5 ? 5000 : 100);
    });
  };
  for (let i = 0; i < workers; i++) fork(i === 0);

  onSignals(async () => {
    stopping = true;
    logger.info('shutting down workers');
    const all = Object.values(cluster.workers ?? {}).filter((w) => !!w);
    await Promise.all(
      all.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      ),
    );
    rmSync(statusFile(loaded), { force: true });
  }, logger);
}

async function runWorker(loaded: LoadedConfig): Promise<void> {
  const logger = createLogger(loaded).child({ worker: cluster.worker?.id });
  const bus = loaded.config.store.url.startsWith('sqlite:') ? new WorkerBus() : undefined;
  const server = await startServer(loaded, { logger, bus, runsJobs: process.env.MAILROOMD_WORKER_JOBS === '1' });
  logger.info({ runsJobs: process.env.MAILROOMD_WORKER_JOBS === '1' }, 'worker ready');
  process.send?.({ type: 'mailroom:ready', listeners: server.listeners() } satisfies ReadyMessage);
  onSignals(async () => {
    await server.stop();
    await bus?.close();
  }, logger);
}

function onSignals(shutdown: () => Promise<void>, logger: { error: (o: object, m: string) => void }): void {
  let once = false;
  const handler = () => {
    if (once) return;
    once = true;
    const timer = setTimeout(() => process.exit(1), 30_000);
    timer.unref();
    shutdown().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
