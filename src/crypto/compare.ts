import { timingSafeEqual } from 'node:crypto';
import { sha256, type HashInput } from './hash.js';

/**
 * Compares two secrets (strings as UTF-8, or bytes) in constant time, including when their lengths differ: both sides
 * are hashed to 32 bytes first, so neither the content nor the length leaks through timing.
 *
 * @example
 * if (!constantTimeEqual(presentedToken, storedToken)) throw new GatehouseError('ERR_ADMIN_UNAUTHORIZED');
 */
export function constantTimeEqual(a: HashInput, b: HashInput): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}
