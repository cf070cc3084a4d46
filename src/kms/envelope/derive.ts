import { createHash, hkdfSync, timingSafeEqual } from 'node:crypto';
import { GatehouseError } from '../../core/index.js';

const SINGLE_COMMITMENT_LABEL = Buffer.from('gatehouse envelope v1 single commitment', 'latin1');
const STREAM_INFO = Buffer.from('gatehouse envelope v1 stream', 'latin1');

/**
 * The key commitment of a single-shot envelope: SHA-256("gatehouse envelope v1 single commitment" ‖ DEK), 32 bytes.
 * The DEK itself is the payload key: it is 32 fresh uniformly random bytes used for one message (or one cache
 * entry), so no derivation is needed, and one SHA-256 costs about a third of the HMAC-SHA512 a derivation would.
 *
 * @example
 * const commitment = singleCommitment(dek); // stored in the header, compared with checkCommitment on read
 */
export function singleCommitment(dek: Buffer): Buffer {
  return createHash('sha256').update(SINGLE_COMMITMENT_LABEL).update(dek).digest();
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
 * Checks in constant time that the `expected` 32-byte commitment (derived from the unwrapped DEK) equals the stored
 * one; throws ERR_KMS_DECRYPT_FAILED otherwise, before any payload byte is decrypted.
 *
 * @example
 * checkCommitment(singleCommitment(dek), envelope.subarray(at, at + 32));
 */
export function checkCommitment(expected: Buffer, stored: Buffer): void {
  if (expected.length !== 32 || stored.length !== 32 || !timingSafeEqual(expected, stored)) {
    throw new GatehouseError('ERR_KMS_DECRYPT_FAILED', { detail: 'key commitment mismatch' });
  }
}
