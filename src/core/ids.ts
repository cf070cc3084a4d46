import { randomBytes, randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const MAX_POOLED = 64;
let pool = Buffer.alloc(0);
let at = POOL_BYTES;

/**
 * A random identifier of `bytes` random bytes (16 by default = 128 bits) from the CSPRNG, base64url without padding.
 * Ids of up to 64 bytes are cut from a 4 KiB pool refilled with one `randomFillSync`, each slice used once and wiped:
 * one CSPRNG call per id cost more than the rest of a proxied request's own work (request ids, `jti`s).
 *
 * @example
 * const jti = randomId(); // e.g. 'Xq3c9yS1T7a2nUZp0r8b1A'
 */
export function randomId(bytes = 16): string {
  if (bytes > MAX_POOLED) return randomBytes(bytes).toString('base64url');
  if (at + bytes > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(POOL_BYTES));
    at = 0;
  }
  const id = pool.toString('base64url', at, at + bytes);
  pool.fill(0, at, at + bytes);
  at += bytes;
  return id;
}

/** A random id with a readable prefix, e.g. `prefixedId('key')` → `key_3F9a…`. */
export function prefixedId(prefix: string, bytes = 16): string {
  return `${prefix}_${randomId(bytes)}`;
}
