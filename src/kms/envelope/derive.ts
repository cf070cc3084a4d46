import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { GatehouseError } from '../../core/index.js';

const SINGLE_INFO = Buffer.from('gatehouse envelope v1 single', 'latin1');
const STREAM_INFO = Buffer.from('gatehouse envelope v1 stream', 'latin1');
const ONE = Buffer.from([1]);

/**
 * HKDF-Expand-SHA512 (RFC 5869 §2.3) of one block: T(1) = HMAC-SHA512(prk, info ‖ 0x01), 64 bytes. Used directly on
 * the DEK, which is already 32 uniformly random bytes (RFC 5869 §3.3 lets the extract step go), because one HMAC
 * costs a fraction of a full `hkdfSync` on the per-record hot path.
 *
 * @example
 * const okm = hkdfExpandSha512(prk, Buffer.from('label')); // equals hkdfSync('sha512', ikm, salt, 'label', 64)
 */
export function hkdfExpandSha512(prk: Buffer, info: Buffer): Buffer {
  return createHmac('sha512', prk).update(info).update(ONE).digest();
}

/**
 * Single-shot keys from a DEK: 64 bytes = payload key (first 32) ‖ key commitment (last 32).
 *
 * @example
 * const okm = deriveSingle(dek); const key = okm.subarray(0, 32), commitment = okm.subarray(32);
 */
export function deriveSingle(dek: Buffer): Buffer {
  return hkdfExpandSha512(dek, SINGLE_INFO);
}

/**
 * Stream keys from a DEK and the stream's salt: HKDF-SHA256(ikm = DEK, salt, info = "gatehouse envelope v1 stream",
 * 64 bytes) = segment key (first 32) ‖ key commitment (last 32).
 *
 * @example
 * const okm = deriveStream(dek, salt);
 */
export function deriveStream(dek: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', dek, salt, STREAM_INFO, 64));
}

/**
 * Checks in constant time that the derived commitment (`okm` bytes 32-63) equals the stored one; throws
 * ERR_KMS_DECRYPT_FAILED otherwise, before any payload byte is decrypted.
 *
 * @example
 * checkCommitment(okm, envelope.subarray(at, at + 32));
 */
export function checkCommitment(okm: Buffer, stored: Buffer): void {
  if (stored.length !== 32 || !timingSafeEqual(okm.subarray(32, 64), stored)) {
    throw new GatehouseError('ERR_KMS_DECRYPT_FAILED', { detail: 'key commitment mismatch' });
  }
}
