/**
 * Opens the configured store: SQLite (default, "sqlite:PATH") or PostgreSQL
 * ("postgres://..."). The only place besides server.ts and the CLI that knows
 * the concrete implementations. Failures become one clear sentence.
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import { createDirBlobStore } from './blobs/dir.js';
import { LocalBus } from './bus.js';
import type { ChangeBus, Store } from './types.js';

export class StoreOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreOpenError';
  }
}

function ensureWritableDir(dir: string, what: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new StoreOpenError(`${what} ${dir} cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); fix its permissions or set data_dir to a writable folder`);
  }
}

export async function openStore(loaded: LoadedConfig, opts: { bus?: ChangeBus; migrate?: boolean } = {}): Promise<Store> {
  const { config } = loaded;
  const url = config.store.url;
  let store: Store;
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { openPostgresStore } = await import('./postgres/index.js');
    let blobs: 'postgres' | ReturnType<typeof createDirBlobStore> = 'postgres';
    if (config.store.blobs === 'dir') {
      const blobDir = loaded.dataPath(config.store.blobDir);
      ensureWritableDir(blobDir, 'blob directory');
      blobs = createDirBlobStore(blobDir);
    }
    try {
      store = await openPostgresStore({ url, blobs, bus: opts.bus });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const unreachable = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', '3D000', '28P01', '28000'].includes(String(e.code));
      const why = e.code === 'ECONNREFUSED' ? 'connection refused (is the server running?)' : e.message;
      throw new StoreOpenError(unreachable ? `cannot connect to PostgreSQL at ${redact(url)}: ${why}` : `opening the PostgreSQL store at ${redact(url)} failed: ${why}`);
    }
  } else if (url.startsWith('sqlite:')) {
    const { openSqliteStore } = await import('./sqlite/index.js');
    const path = loaded.dataPath(url.slice('sqlite:'.length));
    ensureWritableDir(dirname(path), 'data directory');
    const blobDir = loaded.dataPath(config.store.blobDir);
    ensureWritableDir(blobDir, 'blob directory');
    try {
      store = await openSqliteStore({ path, blobs: createDirBlobStore(blobDir), bus: opts.bus ?? new LocalBus() });
    } catch (err) {
      throw new StoreOpenError(`cannot open the SQLite store ${path}: ${(err as Error).message}`);
    }
  } else {
    throw new StoreOpenError(`store.url "${url}" is not understood: use "sqlite:PATH" or "postgres://user@host:port/database"`);
  }
  if (opts.migrate !== false) {
    try {
      await store.migrate();
    } catch (err) {
      await store.close().catch(() => {});
      throw new StoreOpenError(`migrating the store failed: ${(err as Error).message}`);
    }
  }
  return store;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
