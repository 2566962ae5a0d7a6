/**
 * Loading the configuration: mailroom.toml (snake_case keys) → camelCase →
 * MAILROOM_* environment overrides → zod validation. An error names the key as
 * the operator wrote it ("smtp.max_message_size") and says what is wrong.
 * Relative paths in the config are resolved against the config file's folder
 * (or the working directory when there is no file), and data paths against data_dir.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { configSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  config: Config;
  /** The file read, or null when running on defaults. */
  path: string | null;
  /** Absolute data directory. */
  dataDir: string;
  /** Resolve a path relative to the data directory. */
  dataPath(p: string): string;
}

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function camelKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[camel(k)] = camelKeys(v);
    return out;
  }
  return value;
}

/** MAILROOM_SMTP__PORT=25 → smtp.port = 25; values parsed as TOML values when they can be. */
export function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('MAILROOM_') || raw === undefined) continue;
    if (name === 'MAILROOM_CONFIG') continue;
    const path = name.slice('MAILROOM_'.length).toLowerCase().split('__').map(camel);
    let value: unknown = raw;
    try {
      value = (parseToml(`v = ${raw}`) as { v: unknown }).v;
    } catch {
      value = raw; // a bare string
    }
    let node = out;
    for (const key of path.slice(0, -1)) {
      node[key] = (node[key] as Record<string, unknown>) ?? {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = value;
  }
  return out;
}

export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)) {
      out[k] = deepMerge(b as Record<string, unknown>, v as Record<string, unknown>);
    } else {
      out[k] = v;
    }
  }
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : snake(String(p)))).join('.').replace(/\.\[/g, '[');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map(snake).join(', ');
    return `${key ? key + ': ' : ''}unknown key${issue.keys.length > 1 ? 's' : ''} ${keys} (check the spelling; see docs/configuration.md)`;
  }
  return `${key || '(top level)'}: ${issue.message}`;
}

/** Validate a raw (camelCase) object; throws ConfigError listing every problem. */
export function validateConfig(raw: unknown, source = 'configuration'): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map(describeIssue);
    throw new ConfigError(`${source} is invalid:\n  ${lines.join('\n  ')}`);
  }
  return result.data;
}

/**
 * Load the config. With an explicit path, the file must exist. Without one,
 * ./mailroom.toml is used when present, else defaults (data in ./data).
 */
export function loadConfig(opts: { path?: string; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown>; cwd?: string } = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  let path: string | null = opts.path ?? env.MAILROOM_CONFIG ?? null;
  if (path) {
    path = resolve(cwd, path);
    if (!existsSync(path)) throw new ConfigError(`config file ${path} does not exist (create one with "mailroom init", or omit --config to run on defaults)`);
  } else if (existsSync(resolve(cwd, 'mailroom.toml'))) {
    path = resolve(cwd, 'mailroom.toml');
  }
  let fileValues: Record<string, unknown> = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`);
    }
    try {
      fileValues = camelKeys(parseToml(text)) as Record<string, unknown>;
    } catch (err) {
      const e = err as Error & { line?: number };
      throw new ConfigError(`${path} is not valid TOML: ${e.message.split('\n')[0]}${e.line ? ` (line ${e.line})` : ''}`);
    }
  }
  let merged = deepMerge(fileValues, envOverrides(env));
  if (opts.overrides) merged = deepMerge(merged, opts.overrides);
  const config = validateConfig(merged, path ?? 'configuration');
  const base = path ? dirname(path) : cwd;
  const dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(base, config.dataDir);
  return {
    config,
    path,
    dataDir,
    dataPath: (p: string) => (isAbsolute(p) ? p : resolve(dataDir, p)),
  };
}
