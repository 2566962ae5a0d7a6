/**
 * The protocol services server.ts starts, in order. Each module exports one
 * factory; adding a protocol to mailroom is one line here.
 */
import type { Service, ServiceContext } from './service.js';
import { createFetchService } from './fetch/index.js';
import { createSmtpService } from './smtp/index.js';
import { createQueueService } from './delivery/queue/index.js';
import { createImapService } from './imap/index.js';
import { createPop3Service } from './pop3/index.js';

export type ServiceFactory = (ctx: ServiceContext) => Service | null;

export const serviceFactories: Array<{ name: string; create: ServiceFactory }> = [
  { name: 'smtp', create: createSmtpService },
  { name: 'fetch', create: createFetchService },
  { name: 'queue', create: createQueueService },
  { name: 'imap', create: createImapService },
  { name: 'pop3', create: createPop3Service },
];
