import { createCipheriv, createDecipheriv, type CipherGCMTypes } from 'node:crypto';
import { GatehouseError } from '../../core/index.js';
import type { AeadAlgorithm } from '../../crypto/index.js';

const TAG = 16;

/**
 * Encrypts `plaintext` with an AEAD into `out` at `at` as ciphertext ‖ tag, authenticating the parts of `aad` in order
 * (equivalent to their concatenation). The caller provides a fresh nonce. Returns the offset after the tag.
 *
 * @example
 * const end = sealInto('aes-256-gcm', key, nonce, dek, [headerAad, contextBytes], out, wrapAt);
 */
export function sealInto(
  alg: AeadAlgorithm,
  key: Buffer,
  nonce: Buffer,
  plaintext: Buffer,
  aad: readonly Buffer[],
  out: Buffer,
  at: number,
): number {
  const cipher = createCipheriv(alg as CipherGCMTypes, key, nonce, { authTagLength: TAG });
  for (const part of aad) cipher.setAAD(part);
  let end = at + cipher.update(plaintext).copy(out, at);
  end += cipher.final().copy(out, end);
  return end + cipher.getAuthTag().copy(out, end);
}

/**
 * Opens ciphertext ‖ tag sealed by {@link sealInto}. Any failure throws ERR_KMS_DECRYPT_FAILED (fixed message);
 * nothing is returned unless the tag verified.
 *
 * @example
 * const dek = openSealed('aes-256-gcm', kek, nonce, wrapped, [headerAad, contextBytes]);
 */
export function openSealed(
  alg: AeadAlgorithm,
  key: Buffer,
  nonce: Buffer,
  sealed: Buffer,
  aad: readonly Buffer[],
): Buffer {
  if (sealed.length < TAG) throw new GatehouseError('ERR_KMS_DECRYPT_FAILED');
  const body = sealed.subarray(0, sealed.length - TAG);
  let first: Buffer | undefined;
  try {
    const decipher = createDecipheriv(alg as CipherGCMTypes, key, nonce, { authTagLength: TAG });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
    for (const part of aad) decipher.setAAD(part);
    first = decipher.update(body);
    const last = decipher.final();
    return last.length === 0 ? first : Buffer.concat([first, last]);
  } catch {
    first?.fill(0); // unauthenticated plaintext (an unwrapped DEK candidate)
    throw new GatehouseError('ERR_KMS_DECRYPT_FAILED');
  }
}
