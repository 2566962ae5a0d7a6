/**
 * `mailroom pop3 expire [--days N] [--dry-run]`: apply POP3 retention now
 * (pop3.retention_days, or --days): remove INBOX messages a POP3 client
 * retrieved more than N days ago. The server does the same every hour; this is
 * for an administrator who just set the option or wants to see its effect first.
 */
import type { Command } from 'commander';
import pino from 'pino';
import type { CliContext } from '../context.js';
import { sweepRetention } from '../../pop3/retention.js';

export function registerPop3Commands(program: Command, cli: CliContext): void {
  const pop3 = program.command('pop3').description('POP3 maintenance');
  pop3
    .command('expire')
    .description('remove messages POP3 clients retrieved more than N days ago (pop3.retention_days)')
    .option('--days <n>', 'days after retrieval (default: pop3.retention_days)')
    .option('--dry-run', 'count what would be removed, remove nothing')
    .option('--json', 'print JSON')
    .action(async (opts: { days?: string; dryRun?: boolean }, cmd: Command) => {
      await cli.withStore(cmd, async (store, loaded) => {
        const days = opts.days === undefined ? loaded.config.pop3.retentionDays : Number(opts.days);
        if (!Number.isInteger(days) || days < 1) {
          cli.fail(opts.days === undefined ? 'pop3.retention_days is 0 (retention is off); give --days N' : '--days takes a whole number of days, 1 or more');
        }
        const r = await sweepRetention(store, days, pino({ level: 'silent' }), new Date(), { dryRun: opts.dryRun });
        cli.printObject(cmd, {
          days,
          users: r.users,
          [opts.dryRun ? 'wouldRemove' : 'removed']: r.removed,
          skippedInUse: r.skipped,
        });
      });
    });
}
