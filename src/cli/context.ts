/**
 * What every CLI command gets: config loading, a store opened for the length of
 * one command, output as a table or JSON, and errors that print one clear line.
 */
import type { Command } from 'commander';
import type { Authenticator } from '../auth/types.js';
import type { LoadedConfig } from '../config/load.js';
import type { Store } from '../store/types.js';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | boolean | Date | null | undefined;
}

export interface CliContext {
  /** Config of this invocation (--config PATH, or ./mailroom.toml, or defaults into ./data). */
  loadConfig(cmd: Command): Promise<LoadedConfig>;
  /** Opens the store (migrated), runs fn, closes the store whatever happens. */
  withStore<T>(cmd: Command, fn: (store: Store, loaded: LoadedConfig) => Promise<T>): Promise<T>;
  /** An Authenticator over a store (for `user add`/`passwd`: deriveCredentials). */
  authenticator(store: Store, loaded: LoadedConfig): Promise<Authenticator>;
  /** Seals/unseals secrets with the server's key (fetch passwords). */
  secrets(loaded: LoadedConfig): Promise<{ seal(plain: string): string; unseal(sealed: string): string }>;
  /** Prints rows as an aligned table, or as JSON when the command has --json. */
  print<T>(cmd: Command, rows: T[], columns: Array<Column<T>>, jsonValue?: unknown): void;
  /** Prints one object (JSON with --json, "key: value" lines otherwise). */
  printObject(cmd: Command, obj: Record<string, unknown>): void;
  /** Reads a password: the option if given, else one line of standard input. */
  readPassword(given: string | undefined, prompt?: string): Promise<string>;
  /** Stop with a one-line message and a non-zero exit. */
  fail(message: string): never;
}
