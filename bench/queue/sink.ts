/**
 * The bench's remote side: an SMTP server on 127.0.0.1 that accepts every
 * message and discards it, in its own process so it takes the same share of
 * the CPU whichever sender (mailroom or Postfix) it serves. Plain SMTP (no
 * STARTTLS, no AUTH): both senders talk to it alike.
 *
 * Run by run.ts through child_process.fork; answers { type: 'stats' } with
 * { type: 'stats', messages, recipients, bytes, current, max, total, first, last }.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

const stats = { messages: 0, recipients: 0, bytes: 0, current: 0, max: 0, total: 0, first: 0, last: 0 };

const server = new SMTPServer({
  name: 'sink.bench',
  banner: 'bench sink',
  disabledCommands: ['STARTTLS', 'AUTH'],
  authOptional: true,
  logger: false,
  disableReverseLookup: true,
  size: 64 * 1024 * 1024,
  maxClients: 2000,
  onConnect(_s, cb) {
    stats.current++;
    stats.total++;
    stats.max = Math.max(stats.max, stats.current);
    cb();
  },
  onClose() {
    stats.current--;
  },
  onData(stream, session, cb) {
    let n = 0;
    stream.on('data', (c: Buffer) => (n += c.length));
    stream.on('end', () => {
      const now = Date.now();
      if (!stats.first) stats.first = now;
      stats.last = now;
      stats.messages++;
      stats.recipients += session.envelope.rcptTo.length;
      stats.bytes += n;
      cb(null, 'Ok: discarded');
    });
  },
});
server.on('error', () => {});

process.on('message', (m: { type: string }) => {
  if (m.type === 'stats') process.send!({ type: 'stats', ...stats });
  if (m.type === 'reset') {
    Object.assign(stats, { messages: 0, recipients: 0, bytes: 0, max: stats.current, total: 0, first: 0, last: 0 });
    process.send!({ type: 'reset' });
  }
  if (m.type === 'stop') server.close(() => process.exit(0));
});

// The bench went away (killed): so does its sink.
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  process.send!({ type: 'listening', port: (server.server.address() as AddressInfo).port });
});
