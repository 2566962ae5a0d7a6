/**
 * `mailroom queue list|show|flush|retry|hold|release|delete`: the outbound
 * queue, as an administrator sees it (Postfix's mailq/postqueue/postsuper in
 * one command). Works on the store directly, so it works whether the server
 * runs or not; a running queue runner notices flushes within a second.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { FLUSH_SETTING } from '../../delivery/queue/runner.js';
import { formatDelay } from '../../delivery/queue/schedule.js';
import { isStoreError } from '../../store/errors.js';
import type { QueueEntry, QueueRecipient, RecipientState, Store } from '../../store/types.js';
import type { CliContext } from '../context.js';
import { formatSize } from './accounts.js';

const STATES: RecipientState[] = ['queued', 'deferred', 'delivered', 'bounced'];
const ACTIVE = (r: QueueRecipient) => r.state === 'queued' || r.state === 'deferred';

/** "2 deferred, 1 delivered" */
function summary(e: QueueEntry): string {
  const counts = STATES.map((s) => [s, e.recipients.filter((r) => r.state === s).length] as const).filter(([, n]) => n > 0);
  return counts.map(([s, n]) => `${n} ${s}`).join(', ');
}

function nextAttempt(e: QueueEntry): Date | null {
  const active = e.recipients.filter(ACTIVE);
  if (active.length === 0) return null;
  return new Date(Math.min(...active.map((r) => r.nextAttemptAt.getTime())));
}

function lastReply(e: QueueEntry): string {
  const recent = [...e.recipients].filter((r) => r.lastReply).sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime())[0];
  const text = recent?.lastReply ?? '';
  return text.length > 70 ? text.slice(0, 67) + '...' : text;
}

function entryJson(e: QueueEntry) {
  return {
    id: e.id,
    sender: e.sender,
    size: e.blob.size,
    source: e.source,
    createdAt: e.createdAt.toISOString(),
    held: e.held,
    warnedAt: e.warnedAt?.toISOString() ?? null,
    dsnRet: e.dsnRet,
    dsnEnvid: e.dsnEnvid,
    recipients: e.recipients.map((r) => ({
      address: r.address,
      state: r.state,
      attempts: r.attempts,
      nextAttemptAt: ACTIVE(r) ? r.nextAttemptAt.toISOString() : null,
      lastReply: r.lastReply,
      lastHost: r.lastHost,
      updatedAt: r.updatedAt.toISOString(),
      dsnNotify: r.dsnNotify,
      dsnOrcpt: r.dsnOrcpt,
    })),
  };
}

const QUEUE_ID = /^[0-9A-Za-z]{4,40}$/;

async function entryOrFail(cli: CliContext, store: Store, id: string): Promise<QueueEntry> {
  if (!QUEUE_ID.test(id)) cli.fail(`"${id}" is not a queue id (see: mailroom queue list)`);
  const e = (await store.getQueueEntry(id)) ?? (await store.getQueueEntry(id.toUpperCase()));
  if (!e) cli.fail(`no queue entry ${id} (see: mailroom queue list)`);
  return e;
}

/** Ids given on the command line, or every active entry with --all. */
async function targets(cli: CliContext, store: Store, ids: string[], all: boolean | undefined, verb: string): Promise<string[] | 'all'> {
  if (all && ids.length) cli.fail(`give queue ids or --all, not both`);
  if (all) return 'all';
  if (ids.length === 0) cli.fail(`which entries? give one or more queue ids, or --all (see: mailroom queue list) to ${verb}`);
  const found: string[] = [];
  for (const id of ids) found.push((await entryOrFail(cli, store, id)).id);
  return found;
}

export function registerQueueCommands(program: Command, cli: CliContext): void {
  const queue = program.command('queue').description('the outbound queue: mail waiting to go to other servers');

  queue
    .command('list')
    .description('list queue entries (by default those still waiting: queued or deferred)')
    .option('--all', 'also entries whose recipients are all delivered or bounced (kept for an hour)')
    .option('--state <state>', `only entries with a recipient in this state (${STATES.join(', ')})`)
    .option('--json', 'print JSON')
    .action(async (o: { all?: boolean; state?: string }, cmd: Command) => {
      if (o.state && !STATES.includes(o.state as RecipientState)) cli.fail(`--state is one of ${STATES.join(', ')}, not "${o.state}"`);
      await cli.withStore(cmd, async (store) => {
        const entries = await store.listQueue({ state: o.all ? undefined : ((o.state as RecipientState | undefined) ?? 'active') });
        const now = Date.now();
        cli.print(
          cmd,
          entries,
          [
            { header: 'id', value: (e) => e.id + (e.held ? '!' : '') },
            { header: 'age', value: (e) => formatDelay(now - e.createdAt.getTime()) },
            { header: 'size', value: (e) => formatSize(e.blob.size) },
            { header: 'from', value: (e) => e.sender || '<>' },
            { header: 'to', value: (e) => (e.recipients.length === 1 ? e.recipients[0]!.address : `${e.recipients[0]?.address} +${e.recipients.length - 1}`) },
            { header: 'state', value: (e) => (e.held ? 'held; ' : '') + summary(e) },
            { header: 'next', value: (e) => (e.held ? '' : nextAttempt(e)) },
            { header: 'last reply', value: lastReply },
          ],
          entries.map(entryJson),
        );
      });
    });

  queue
    .command('show <id>')
    .description('one entry: its sender, and every recipient with its state, attempts and last reply')
    .option('--json', 'print JSON')
    .action(async (id: string, _o, cmd: Command) => {
      await cli.withStore(cmd, async (store) => {
        const e = await entryOrFail(cli, store, id);
        if ((cmd.optsWithGlobals() as { json?: boolean }).json) {
          process.stdout.write(JSON.stringify(entryJson(e), null, 2) + '\n');
          return;
        }
        cli.printObject(cmd, {
          id: e.id,
          from: e.sender || '<> (a bounce)',
          size: formatSize(e.blob.size),
          source: e.source,
          queued: e.createdAt,
          age: formatDelay(Date.now() - e.createdAt.getTime()),
          held: e.held ? 'yes (mailroom queue release ' + e.id + ')' : 'no',
          warned: e.warnedAt ?? 'no',
          ...(e.dsnEnvid ? { envid: e.dsnEnvid } : {}),
        });
        process.stdout.write('\n');
        cli.print(cmd, e.recipients, [
          { header: 'recipient', value: (r) => r.address },
          { header: 'state', value: (r) => r.state },
          { header: 'attempts', value: (r) => r.attempts },
          { header: 'next', value: (r) => (ACTIVE(r) ? r.nextAttemptAt : '') },
          { header: 'host', value: (r) => r.lastHost },
          { header: 'last reply', value: (r) => r.lastReply },
        ]);
      });
    });

  queue
    .command('flush')
    .description('try everything waiting now, even outside the delivery window')
    .action(async (_o, cmd: Command) => {
      await cli.withStore(cmd, async (store) => {
        const n = await store.rescheduleQueue('all', new Date());
        await store.setSetting(FLUSH_SETTING, `${new Date().toISOString()} ${randomBytes(4).toString('hex')}`);
        process.stdout.write(`${n} recipient(s) due now; the running server delivers them within a second or two, window or not\n`);
      });
    });

  queue
    .command('retry [ids...]')
    .description('make deferred recipients of these entries due now (the delivery window still applies)')
    .option('--all', 'every entry')
    .action(async (ids: string[], o: { all?: boolean }, cmd: Command) => {
      await cli.withStore(cmd, async (store) => {
        const t = await targets(cli, store, ids, o.all, 'retry');
        let n = 0;
        for (const id of t === 'all' ? ['all' as const] : t) n += await store.rescheduleQueue(id, new Date());
        process.stdout.write(`${n} recipient(s) due now\n`);
      });
    });

  for (const [name, held, help] of [
    ['hold', true, 'keep these entries in the queue without trying them'],
    ['release', false, 'let held entries be delivered again'],
  ] as const) {
    queue
      .command(`${name} [ids...]`)
      .description(help)
      .option('--all', 'every entry')
      .action(async (ids: string[], o: { all?: boolean }, cmd: Command) => {
        await cli.withStore(cmd, async (store) => {
          const t = await targets(cli, store, ids, o.all, name);
          let n = 0;
          for (const id of t === 'all' ? ['all' as const] : t) n += await store.setQueueHeld(id, held);
          process.stdout.write(`${held ? 'held' : 'released'} ${n} entr${n === 1 ? 'y' : 'ies'}\n`);
        });
      });
  }

  queue
    .command('delete [ids...]')
    .description('remove entries from the queue for good: their recipients get nothing and the sender no bounce')
    .option('--all', 'every entry (all of the queue)')
    .action(async (ids: string[], o: { all?: boolean }, cmd: Command) => {
      await cli.withStore(cmd, async (store) => {
        const t = await targets(cli, store, ids, o.all, 'delete');
        const list = t === 'all' ? (await store.listQueue()).map((e) => e.id) : t;
        let n = 0;
        for (const id of list) {
          try {
            await store.deleteQueueEntry(id);
            n++;
          } catch (err) {
            if (!isStoreError(err, 'notFound')) throw err;
          }
        }
        process.stdout.write(`deleted ${n} entr${n === 1 ? 'y' : 'ies'}\n`);
      });
    });
}
