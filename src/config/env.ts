import { GatehouseError } from '../core/index.js';

/** Every configuration override in the environment starts with this prefix. */
export const ENV_PREFIX = 'GATEHOUSE_';

/** Environment variables with the prefix that are not configuration keys. */
const NOT_CONFIG = new Set(['GATEHOUSE_ROOT_KEY', 'GATEHOUSE_CONFIG']);

/**
 * Maps `GATEHOUSE_STORAGE__POSTGRES__URL=...` to `{ storage: { postgres: { url: ... } } }`: segments are separated
 * by a double underscore and written in UPPER_SNAKE case (`HEADERS_TIMEOUT` → `headersTimeout`). Values that parse as
 * JSON numbers or booleans become those; a value starting with `[` or `{` is read as JSON (lists such as
 * `gateway.trustedProxies` or `pki.allowedDnsNames`; ERR_CONFIG_INVALID naming the variable when it is not JSON);
 * everything else stays a string.
 */
export function envOverrides(env: Record<string, string | undefined>): {
  values: Record<string, unknown>;
  sources: Map<string, string>;
} {
  const values: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || NOT_CONFIG.has(name) || raw === undefined) continue;
    const segments = name.slice(ENV_PREFIX.length).split('__');
    if (segments.some((s) => !/^[A-Z][A-Z0-9_]*$/.test(s))) {
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        message: `config: environment variable ${name} is not of the form GATEHOUSE_SECTION__KEY`,
      });
    }
    const path = segments.map(snakeToCamel);
    let node = values;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      node = (typeof next === 'object' && next !== null ? next : (node[part] = {})) as Record<string, unknown>;
    }
    node[path[path.length - 1] as string] = coerce(name, raw);
    sources.set(path.join('.'), name);
  }
  return { values, sources };
}

/** The environment variable that overrides a dotted config key, e.g. `storage.postgres.url`. */
export function envNameFor(key: string): string {
  return ENV_PREFIX + key.split('.').map(camelToSnake).join('__');
}

function snakeToCamel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function camelToSnake(segment: string): string {
  return segment.replace(/([A-Z])/g, '_$1').toUpperCase();
}

function coerce(name: string, raw: string): unknown {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  const first = raw.trimStart()[0];
  if (first === '[' || first === '{') {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        message: `config: environment variable ${name} starts like a JSON list or object but is not valid JSON`,
      });
    }
  }
  return raw;
}

/** A snapshot of the process environment: the one place outside tests that reads it. */
export function processEnvironment(): Record<string, string | undefined> {
  return { ...process.env };
}

/** `GATEHOUSE_ROOT_KEY`: the root key itself, when the operator supplies it through the environment. */
export function rootKeyFromEnvironment(env: Record<string, string | undefined>): string | undefined {
  const value = env.GATEHOUSE_ROOT_KEY;
  return value === undefined || value === '' ? undefined : value;
}

/** `GATEHOUSE_CONFIG`: the configuration file, when `--config` is not given. */
export function configFileFromEnvironment(env: Record<string, string | undefined>): string | undefined {
  const value = env.GATEHOUSE_CONFIG;
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The size of libuv's thread pool for this process: `UV_THREADPOOL_SIZE` as libuv reads it at the pool's first use
 * (1–1024), else 4. scrypt and the token endpoint's signatures share it.
 *
 * @example
 * if (config.identity.signIn.hashConcurrency >= threadPoolSize(processEnvironment())) logger.warn(...);
 */
export function threadPoolSize(env: Record<string, string | undefined>): number {
  const size = Number(env.UV_THREADPOOL_SIZE);
  return Number.isInteger(size) && size >= 1 ? Math.min(size, 1024) : 4;
}
