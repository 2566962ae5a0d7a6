/** The CliContext every command group receives (see context.ts for the contract). */
import type { Command } from 'commander';
import { createAuthenticator } from '../auth/index.js';
import { createSecrets, loadOrCreateSecretKey } from '../auth/secrets.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { CliError, type CliContext, type Column } from './context.js';

function globalOpts(cmd: Command): { config?: string; json?: boolean } {
  return cmd.optsWithGlobals() as { config?: string; json?: boolean };
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return String(v);
}

export function formatTable<T>(rows: T[], columns: Array<Column<T>>): string {
  const data = rows.map((r) => columns.map((c) => cell(c.value(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...data.map((d) => d[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns.map((c) => c.header.toUpperCase())), ...data.map(line)].join('\n') + '\n';
}

async function readLine(): Promise<string> {
  if (process.stdin.isTTY) throw new CliError('no password given: pass --password, or pipe it on standard input (echo secret | mailroom ...)');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

export function createCliContext(): CliContext {
  const cli: CliContext = {
    async loadConfig(cmd) {
      return loadConfig({ path: globalOpts(cmd).config });
    },
    async withStore(cmd, fn) {
      const loaded = await cli.loadConfig(cmd);
      const store = await openStore(loaded);
      try {
        return await fn(store, loaded);
      } finally {
        await store.close();
      }
    },
    async authenticator(store: Store, loaded: LoadedConfig) {
      return createAuthenticator({ store, config: loaded.config, secrets: await cli.secrets(loaded) });
    },
    async secrets(loaded) {
      return createSecrets(loadOrCreateSecretKey(loaded.dataPath(loaded.config.secretKeyFile)));
    },
    print(cmd, rows, columns, jsonValue) {
      if (globalOpts(cmd).json) {
        process.stdout.write(JSON.stringify(jsonValue ?? rows, null, 2) + '\n');
      } else if (rows.length === 0) {
        process.stdout.write('(none)\n');
      } else {
        process.stdout.write(formatTable(rows, columns));
      }
    },
    printObject(cmd, obj) {
      if (globalOpts(cmd).json) {
        process.stdout.write(JSON.stringify(obj, null, 2) + '\n');
        return;
      }
      const width = Math.max(...Object.keys(obj).map((k) => k.length));
      for (const [k, v] of Object.entries(obj)) {
        const text = Array.isArray(v) ? v.map(cell).join(', ') : v && typeof v === 'object' && !(v instanceof Date) ? JSON.stringify(v) : cell(v);
        process.stdout.write(`${(k + ':').padEnd(width + 1)} ${text}\n`);
      }
    },
    async readPassword(given) {
      const pw = given ?? (await readLine());
      if (!pw) throw new CliError('the password is empty: pass --password, or pipe it on standard input');
      return pw;
    },
    fail(message): never {
      throw new CliError(message);
    },
  };
  return cli;
}
