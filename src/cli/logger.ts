import pino from 'pino';
import type { Logger } from '../core/index.js';

type Level = 'debug' | 'info' | 'warn' | 'error';

/**
 * Field names whose values are secrets wherever they appear in a log line, at any depth (a secret nested in a
 * request, client or error context is redacted too). `key` is redacted only at the top level, where it may hold key
 * material; nested, and in the platform's own lines (`key_name`), it names things.
 */
const SECRET_FIELDS: ReadonlySet<string> = new Set([
  'token',
  'secret',
  'password',
  'plaintext',
  'authorization',
  'cookie',
  'set-cookie',
  'client_secret',
  'clientSecret',
  'access_token',
  'accessToken',
  'refresh_token',
  'refreshToken',
  'id_token',
  'idToken',
  'device_code',
  'deviceCode',
  'api_key',
  'apiKey',
  'admin_token',
  'adminToken',
  'join_token',
  'joinToken',
  'private_key',
  'privateKey',
  'root_key',
]);
const CENSOR = '[redacted]';
/** Deeper than this a log line's fields are not walked (nothing the platform logs nests that deep). */
const MAX_DEPTH = 8;

/** Plain objects and arrays are walked; anything else (errors, buffers, dates) is left to pino's serializers. */
function walkable(value: unknown): value is Record<string, unknown> | unknown[] {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * `fields` with every secret field's value replaced by `[redacted]`, copied only where something changes (the
 * caller's object is never mutated). A walk rather than pino's `redact` paths, which match one fixed depth each and
 * cost more per line than this walk over every depth.
 */
function redacted<T>(fields: T, depth: number): T {
  if (depth > MAX_DEPTH || !walkable(fields)) return fields;
  if (Array.isArray(fields)) {
    let out: unknown[] = fields;
    fields.forEach((item, i) => {
      const next = redacted(item, depth + 1);
      if (next === item) return;
      if (out === fields) out = [...fields];
      out[i] = next;
    });
    return out as T;
  }
  let out: Record<string, unknown> = fields;
  for (const name of Object.keys(fields)) {
    const value = fields[name];
    const next = SECRET_FIELDS.has(name) || (depth === 0 && name === 'key') ? CENSOR : redacted(value, depth + 1);
    if (next === value) continue;
    if (out === fields) out = { ...fields };
    out[name] = next;
  }
  return out as T;
}

/**
 * Our Logger over pino, with bindings that merge: pino writes every child's bindings as they come, so a `component`
 * bound by a parent and again by a child (the mesh's `component: "mesh"` above a sidecar identity's
 * `component: "identity"`), or a call field named like a binding, appeared twice in one JSON line. Log stores that
 * parse strictly (Elasticsearch refuses duplicate keys by default) dropped those lines. Here a child's bindings
 * replace its parent's of the same name, and a call's fields replace the bindings of the same name.
 */
class MergingLogger implements Logger {
  private readonly out: pino.Logger;

  constructor(
    private readonly root: pino.Logger,
    private readonly bindings: Record<string, unknown>,
  ) {
    this.out = Object.keys(bindings).length === 0 ? root : root.child(redacted(bindings, 0));
  }

  debug(obj: object, msg?: string): void {
    this.write('debug', obj, msg);
  }
  info(obj: object, msg?: string): void {
    this.write('info', obj, msg);
  }
  warn(obj: object, msg?: string): void {
    this.write('warn', obj, msg);
  }
  error(obj: object, msg?: string): void {
    this.write('error', obj, msg);
  }

  child(bindings: object): Logger {
    return new MergingLogger(this.root, { ...this.bindings, ...bindings });
  }

  private write(level: Level, obj: object, msg: string | undefined): void {
    if (!this.out.isLevelEnabled(level)) return;
    let target = this.out;
    for (const name in obj) {
      if (Object.hasOwn(this.bindings, name)) {
        // Rare (a field named like a binding): a one-off child without the bindings the call replaces.
        const kept = Object.fromEntries(Object.entries(this.bindings).filter(([k]) => !Object.hasOwn(obj, k)));
        target = this.root.child(redacted(kept, 0));
        break;
      }
    }
    target[level](obj, msg);
  }
}

/**
 * The process logger: structured JSON lines on stderr (stdout stays for command output), secrets redacted.
 * `destination` is for tests.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const root = pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { log: (fields) => redacted(fields, 0) },
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
  return new MergingLogger(root, {});
}
