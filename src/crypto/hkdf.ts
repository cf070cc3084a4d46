import { hkdfSync, type KeyObject } from 'node:crypto';

/**
 * HKDF-SHA256 (RFC 5869): derives `length` bytes (32 by default) from input keying material, a salt and a context
 * label. One label per purpose keeps derived keys independent.
 *
 * @example
 * const sealKey = hkdfSha256(rootKeyBytes, 'gatehouse', 'seal v1');
 */
export function hkdfSha256(
  ikm: Uint8Array | KeyObject,
  salt: string | Uint8Array,
  info: string | Uint8Array,
  length = 32,
): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}
