/**
 * fetch/: collecting mail from outside POP3 (RFC 1939, 2449, 2595, 5034) and
 * IMAP (RFC 9051/3501, via imapflow) mailboxes into local mailboxes, the way
 * fetchmail and getmail do, for offices whose mail arrives at a provider.
 *
 *   scheduler.ts   when each account is polled (own interval, spread, bounded)
 *   poller.ts      one poll: lock, list, deliver the unseen, delete per policy
 *   deliver.ts     one message: ingest → route() → seen (the no-loss order)
 *   multidrop.ts   recipients of a shared mailbox's messages, from headers
 *   pop3-client.ts our POP3 client; imap-source.ts / pop3-source.ts adapters
 *
 * The service runs the scheduler only in the process that runs singleton jobs
 * (ctx.runsJobs); the store lock per account keeps nodes from polling the same
 * account at once. `mailroom fetch run` polls from the CLI with the same code.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Service, ServiceContext } from '../service.js';
import { pollAccount, type PollDeps } from './poller.js';
import { FetchScheduler } from './scheduler.js';

export { pollAccount, remoteTlsOptions, type PollProgress, type PollResult } from './poller.js';
export { FetchError } from './errors.js';

export function createFetchService(ctx: ServiceContext): Service | null {
  if (!ctx.config.fetch.enabled || !ctx.runsJobs) return null;
  // Stable across restarts of this server: after a crash (kill -9) the new
  // process takes its own dead polls' locks over at once instead of waiting
  // for their leases; other processes and nodes still wait.
  const owner = `server:${hostname()}:${resolve(ctx.config.dataDir)}`;
  const deps: PollDeps = {
    store: ctx.store,
    route: ctx.route,
    recipients: ctx.recipients,
    config: ctx.config,
    secrets: ctx.secrets,
    logger: ctx.logger,
    owner,
  };
  const scheduler = new FetchScheduler({
    listAccounts: () => ctx.store.listExternalAccounts(),
    poll: (account, signal) => pollAccount(account, { ...deps, signal }),
    concurrency: ctx.config.fetch.concurrency,
    logger: ctx.logger,
  });
  return {
    name: 'fetch',
    async start() {
      scheduler.start();
      ctx.logger.info({ owner }, 'fetch scheduler started');
    },
    async stop() {
      await scheduler.stop();
    },
    listeners: () => [],
  };
}
