#!/usr/bin/env node
/**
 * The `mailroom` command. Every sub-command has --help and takes --config PATH;
 * listings take --json. Errors print one line (no stack trace) and exit non-zero.
 */
import cluster from 'node:cluster';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig } from '../config/load.js';
import { configTemplate } from '../config/template.js';
import { StoreOpenError, openStore } from '../store/open.js';
import { isStoreError } from '../store/errors.js';
import { initializeStore } from '../bootstrap.js';
import { createAuthenticator } from '../auth/index.js';
import { registerAccountCommands, formatSize } from './commands/accounts.js';
import { commandGroups } from './commands/index.js';
import { CliError } from './context.js';
import { createCliContext } from './context-impl.js';

const cli = createCliContext();
const program = new Command('mailroom')
  .description('mailroom: a complete mail server (SMTP, IMAP, POP3, outbound queue, mail fetching)')
  .option('-c, --config <path>', 'configuration file (default: ./mailroom.toml, else built-in defaults with data in ./data)')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

program
  .command('start')
  .description('start the server on the configured ports (first run on an empty data directory creates a domain and an admin)')
  .option('-w, --workers <n>', 'worker processes (default: config "workers"; 0 = one per core)', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new CliError(`--workers takes a whole number, not "${v}"`);
    return n;
  })
  .action(async (o: { workers?: number }, cmd: Command) => {
    const loaded = await cli.loadConfig(cmd);
    // Loaded on demand: the protocol servers are not needed by the admin commands.
    const { runStart } = await import('./start.js');
    await runStart(loaded, { workers: o.workers });
  });

program
  .command('init [dir]')
  .description('write a commented mailroom.toml into DIR (default: .), create its data directory, a self-signed certificate, the first domain and an administrator')
  .option('--hostname <name>', 'the server host name', 'localhost')
  .option('--domain <domain>', 'the first domain (default: from the host name)')
  .option('--admin <address>', 'the administrator address (default: postmaster@DOMAIN)')
  .option('--force', 'overwrite an existing mailroom.toml')
  .action(async (dir: string | undefined, o: { hostname: string; domain?: string; admin?: string; force?: boolean }) => {
    const base = resolve(dir ?? '.');
    const path = resolve(base, 'mailroom.toml');
    if (existsSync(path) && !o.force) throw new CliError(`${path} already exists; use --force to overwrite it (the data directory is kept)`);
    mkdirSync(base, { recursive: true });
    writeFileSync(path, configTemplate({ hostname: o.hostname }));
    const loaded = loadConfig({ path });
    const { prepareDataDir } = await import('../server.js');
    await prepareDataDir(loaded);
    const store = await openStore(loaded);
    try {
      const auth = createAuthenticator({ store, config: loaded.config, secrets: await cli.secrets(loaded) });
      const made = await initializeStore(store, auth, loaded.config, { domain: o.domain?.toLowerCase(), admin: o.admin?.toLowerCase() });
      process.stdout.write(`wrote ${path}\ndata directory ${loaded.dataDir}\n`);
      if (made) {
        process.stdout.write(`created domain ${made.domain} and administrator ${made.admin}\npassword: ${made.password}\n(shown once; change it with: mailroom user passwd ${made.admin} --config ${path})\n`);
      } else {
        process.stdout.write('the store already has users; none were created\n');
      }
      process.stdout.write(`start the server with: mailroom start --config ${path}\n`);
    } finally {
      await store.close();
    }
  });

program
  .command('status')
  .description('what runs, on which ports, and how big the store is')
  .option('--json', 'print JSON')
  .action(async (_o, cmd: Command) => {
    const loaded = await cli.loadConfig(cmd);
    const file = loaded.dataPath('status.json');
    let running: { pid: number; startedAt: string; workers: number; listeners: Array<{ name: string; host: string; port: number; tls: string }> } | null = null;
    if (existsSync(file)) {
      const s = JSON.parse(readFileSync(file, 'utf8'));
      try {
        process.kill(s.pid, 0);
        running = s;
      } catch {
        running = null; // stale file from a crash
      }
    }
    await cli.withStore(cmd, async (store) => {
      const stats = await store.stats();
      if ((cmd.optsWithGlobals() as { json?: boolean }).json) {
        process.stdout.write(JSON.stringify({ running: !!running, pid: running?.pid ?? null, startedAt: running?.startedAt ?? null, workers: running?.workers ?? 0, listeners: running?.listeners ?? [], store: { kind: store.kind, url: loaded.config.store.url, ...stats } }, null, 2) + '\n');
        return;
      }
      process.stdout.write(running ? `running: pid ${running.pid}, ${running.workers} worker(s), since ${running.startedAt}\n` : 'not running\n');
      for (const l of running?.listeners ?? []) process.stdout.write(`  ${l.name.padEnd(12)} ${l.host}:${l.port} (${l.tls})\n`);
      process.stdout.write(`store: ${store.kind} ${loaded.config.store.url}\n  ${stats.domains} domain(s), ${stats.users} user(s), ${stats.messages} message(s), ${formatSize(stats.blobBytes)} of message data, ${stats.queue} in the outbound queue\n`);
    });
  });

registerAccountCommands(program, cli);
for (const register of commandGroups) register(program, cli);

// Every command (and sub-command) prints its own errors the same way.
program.commands.forEach(function walk(c: Command) {
  c.exitOverride();
  c.commands.forEach(walk);
});

function explain(err: unknown): string {
  if (err instanceof CliError || err instanceof ConfigError || err instanceof StoreOpenError) return err.message;
  if (isStoreError(err)) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ECONNREFUSED') return `connection refused (${e.message}); is the server or database running?`;
  if (e?.code === 'EADDRINUSE') return `a port is already in use (${e.message}); stop the other server or change the port in the config`;
  if (e?.code === 'EACCES') return `permission denied (${e.message}); ports below 1024 need privileges, and the data directory must be writable`;
  return `unexpected error: ${e?.message ?? String(err)} (set MAILROOM_DEBUG=1 for details)`;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`mailroom: ${explain(err)}\n`);
    if (process.env.MAILROOM_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
    // A worker that failed to start may hold listeners that did open: end it, so
    // the primary sees the failure instead of a half-started worker.
    if (cluster.isWorker) process.exit(process.exitCode);
  }
}
