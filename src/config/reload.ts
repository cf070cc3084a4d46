import { isDeepStrictEqual } from 'node:util';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The dotted keys whose values differ between the configuration a process runs with and one re-read on SIGHUP,
 * leaving out the sections the reload applies (`applied`, e.g. `['gateway']`): what the reload cannot apply and only a
 * restart would. Lists compare whole (`listen.certificateNames`, not its items).
 *
 * @example
 * changedKeys(running, next, ['gateway']); // ['log.level', 'listen.admin.port']
 */
export function changedKeys(running: unknown, next: unknown, applied: readonly string[] = []): string[] {
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    if (applied.includes(path)) return;
    if (isPlainObject(a) && isPlainObject(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
        walk(a[key], b[key], path === '' ? key : `${path}.${key}`);
      }
    } else if (!isDeepStrictEqual(a, b)) {
      out.push(path);
    }
  };
  walk(running, next, '');
  return out;
}
