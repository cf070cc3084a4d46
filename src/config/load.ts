import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { GatehouseError } from '../core/index.js';
import { configSchema, type Config } from './schema.js';
import { ENV_PREFIX, envOverrides } from './env.js';

/** Where configuration comes from. The loader is the only code that reads config files or the environment. */
export interface LoadOptions {
  /** Path of a YAML or JSON file. */
  file?: string;
  /** The environment to read `GATEHOUSE_*` overrides from (pass `process.env`, or nothing in tests). */
  env?: Record<string, string | undefined>;
  /** Values that win over file and environment (command-line flags such as --data-dir). */
  overrides?: Record<string, unknown>;
  /** Where an override came from, by dotted key (e.g. `{ 'log.level': '--log-level' }`), for error messages. */
  overrideSources?: Record<string, string>;
}

/**
 * Loads, validates and freezes the configuration: defaults, then the file, then `GATEHOUSE_*` variables, then
 * explicit overrides. Any unknown key, wrong type or impossible value throws ERR_CONFIG_INVALID naming the key, the
 * value and what was expected.
 *
 * @example
 * const config = loadConfig({ file: 'gatehouse.yaml', env: process.env, overrides: { dataDir: '/var/lib/gatehouse' } });
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const fromFile = options.file === undefined ? {} : readConfigFile(options.file);
  const fromEnv = envOverrides(options.env ?? {});
  const merged = deepMerge(deepMerge(fromFile, fromEnv.values), options.overrides ?? {});
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const sources = new Map([...fromEnv.sources, ...Object.entries(options.overrideSources ?? {})]);
    const first = describeIssues(result.error.issues, merged, sources, options.file);
    throw new GatehouseError('ERR_CONFIG_INVALID', { message: first });
  }
  const config = result.data;
  if (config.storage.kind === 'postgres' && !config.storage.postgres.url) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: 'config: storage.postgres.url: required when storage.kind is postgres (e.g. postgres://host:5432/db)',
    });
  }
  return deepFreeze(config);
}

/** Resolves a path from the config against the data directory (absolute paths stay as they are). */
export function resolveInDataDir(config: Config, path: string): string {
  return isAbsolute(path) ? path : resolve(config.dataDir, path);
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatehouseError('ERR_CONFIG_UNREADABLE', {
      message: `config: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    });
  }
  let parsed: unknown;
  try {
    parsed = text.trim() === '' ? {} : parseYaml(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0];
    throw new GatehouseError('ERR_CONFIG_UNREADABLE', { message: `config: ${file} is not valid YAML/JSON: ${reason}` });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: `config: ${file}: expected a mapping of keys at the top`,
    });
  }
  return parsed as Record<string, unknown>;
}

function describeIssues(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  envSources: Map<string, string>, // by dotted key: the variable (or flag) that set it
  file: string | undefined,
): string {
  const lines = issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const base = issue.path.join('.');
      // Each key is blamed on where it came from: a GATEHOUSE_* variable with a typo is not in the file.
      return issue.keys
        .map((k) => {
          const key = base ? `${base}.${k}` : k;
          const variable = envVariableUnder(envSources, key);
          const where = variable ? ` (from ${variable})` : file ? ` in ${file}` : '';
          return `unknown key ${key}${where} (see docs/configuration.md)`;
        })
        .join('; ');
    }
    const key = issue.path.join('.');
    const value = valueAt(input, issue.path as Array<string | number>);
    const source = envSources.get(key);
    const got = value === undefined ? 'nothing' : JSON.stringify(withoutPassword(key, value));
    return `${key}: ${issue.message.replace(/^Invalid input: /, '')}, got ${got}${source ? ` (from ${source})` : ''}`;
  });
  return `config: ${lines.join('; ')}`;
}

/**
 * A value as a config error may quote it: the password of a connection URL (`storage.postgres.url`, `redis.url`, any
 * key ending in `url`) is replaced by `***`, also in a malformed URL such as `user:secret@host:6379`.
 */
function withoutPassword(key: string, value: unknown): unknown {
  if (typeof value !== 'string' || !/url$/i.test(key)) return value;
  return value.replace(/:[^:@/]*@/g, ':***@');
}

/** The environment variable that set `key` or a key below it, e.g. GATEHOUSE_LISTEN__ADMN__PORT for `listen.admn`. */
function envVariableUnder(envSources: Map<string, string>, key: string): string | undefined {
  for (const [path, variable] of envSources) {
    if (path === key || path.startsWith(`${key}.`)) return variable;
  }
  return undefined;
}

function valueAt(input: unknown, path: Array<string | number>): unknown {
  let current: unknown = input;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[part];
  }
  return current;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

export { ENV_PREFIX };
