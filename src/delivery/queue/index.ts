/**
 * The outbound queue service: delivers what route() queued for the Internet,
 * by MX (RFC 5321 5.1, RFC 7505 null MX) or through configured smarthosts,
 * with retries and back-off, delivery status notifications (RFC 3464/3461),
 * DKIM signing (RFC 6376) and connection windows.
 *
 * State lives in the store (queue entries with one state per recipient), so
 * the queue survives restarts and kill -9; see runner.ts for the rules that
 * keep every recipient delivered once and none forgotten, attempt.ts for how
 * one attempt ends, outbound/ for the SMTP client side.
 *
 * Runs only in the process that runs jobs (one per node); several nodes share
 * the work through the store's leases.
 */
import { DkimSigner } from '../dkim.js';
import { createDnsResolver } from '../outbound/dns.js';
import type { Service, ServiceContext } from '../../service.js';
import { QueueRunner } from './runner.js';

export { QueueRunner, FLUSH_SETTING } from './runner.js';

export function createQueueService(ctx: ServiceContext): Service | null {
  if (!ctx.runsJobs || !ctx.config.queue.enabled) return null;
  const runner = new QueueRunner({
    store: ctx.store,
    config: ctx.config,
    route: ctx.route,
    logger: ctx.logger,
    resolver: createDnsResolver(ctx.config.smtp.dnsServers),
    dkim: new DkimSigner(ctx.store, ctx.secrets),
  });
  return {
    name: 'queue',
    start: () => runner.start(),
    stop: () => runner.stop(),
    listeners: () => [],
  };
}
