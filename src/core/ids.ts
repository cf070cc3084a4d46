import { randomBytes } from 'node:crypto';

/**
 * A random identifier of `bytes` random bytes (16 by default = 128 bits), base64url without padding.
 *
 * @example
 * const jti = randomId(); // e.g. 'Xq3c9yS1T7a2nUZp0r8b1A'
 */
export function randomId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}

/** A random id with a readable prefix, e.g. `prefixedId('key')` → `key_3F9a…`. */
export function prefixedId(prefix: string, bytes = 16): string {
  return `${prefix}_${randomId(bytes)}`;
}
