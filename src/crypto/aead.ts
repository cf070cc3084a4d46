import { createCipheriv, createDecipheriv, type CipherGCMTypes, type KeyObject } from 'node:crypto';
import { GatehouseError } from '../core/index.js';
import { randomNonce } from './random.js';

/** The AEAD algorithms gatehouse uses: both take 256-bit keys, 96-bit nonces and give 128-bit tags. */
export type AeadAlgorithm = 'aes-256-gcm' | 'chacha20-poly1305';

/** The AEAD algorithms, for validation. */
export const AEAD_ALGORITHMS: readonly AeadAlgorithm[] = ['aes-256-gcm', 'chacha20-poly1305'];

/** Key length in bytes of every {@link AeadAlgorithm}. */
export const AEAD_KEY_BYTES = 32;
/** Nonce length in bytes (96 bits, random: NIST SP 800-38D §8.2.2). */
export const AEAD_NONCE_BYTES = 12;
/** Tag length in bytes (128 bits). */
export const AEAD_TAG_BYTES = 16;

/** A key: raw bytes or a secret KeyObject. */
export type AeadKey = Uint8Array | KeyObject;

function checkKey(key: AeadKey): void {
  const length = key instanceof Uint8Array ? key.length : key.symmetricKeySize;
  if (length !== AEAD_KEY_BYTES) {
    throw new GatehouseError('ERR_INTERNAL', { detail: `AEAD key must be ${AEAD_KEY_BYTES} bytes` });
  }
}

function checkAlgorithm(alg: string): asserts alg is AeadAlgorithm {
  if (!AEAD_ALGORITHMS.includes(alg as AeadAlgorithm)) {
    throw new GatehouseError('ERR_INTERNAL', { detail: `unknown AEAD algorithm ${alg}` });
  }
}

/**
 * Encrypts with an explicit nonce. Exported for known-answer tests only: production code calls {@link aeadEncrypt},
 * which draws a fresh random nonce, because reusing a nonce under one key breaks both algorithms.
 *
 * @example
 * const sealed = aeadEncryptWithNonce('aes-256-gcm', key, nonce, plaintext, aad); // nonce ‖ ciphertext ‖ tag
 */
export function aeadEncryptWithNonce(
  alg: AeadAlgorithm,
  key: AeadKey,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array = Buffer.alloc(0),
): Buffer {
  checkAlgorithm(alg);
  checkKey(key);
  if (nonce.length !== AEAD_NONCE_BYTES) {
    throw new GatehouseError('ERR_INTERNAL', { detail: `AEAD nonce must be ${AEAD_NONCE_BYTES} bytes` });
  }
  // Both algorithms share the GCM-style API; the cast names one of the overloads that accepts authTagLength.
  const cipher = createCipheriv(alg as CipherGCMTypes, key, nonce, { authTagLength: AEAD_TAG_BYTES });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/**
 * Encrypts `plaintext` under `key` with a fresh random 96-bit nonce, authenticating `aad` too. Returns
 * `nonce ‖ ciphertext ‖ tag` (28 bytes longer than the plaintext).
 *
 * @example
 * const sealed = aeadEncrypt('aes-256-gcm', key, Buffer.from('hello'), Buffer.from('orders:v1'));
 */
export function aeadEncrypt(
  alg: AeadAlgorithm,
  key: AeadKey,
  plaintext: Uint8Array,
  aad: Uint8Array = Buffer.alloc(0),
): Buffer {
  return aeadEncryptWithNonce(alg, key, randomNonce(), plaintext, aad);
}

/**
 * Opens `nonce ‖ ciphertext ‖ tag` made by {@link aeadEncrypt}. Any failure (wrong key, wrong AAD, altered or
 * truncated input) throws ERR_KMS_DECRYPT_FAILED with a fixed message that says nothing about which check failed.
 *
 * @example
 * const plaintext = aeadDecrypt('aes-256-gcm', key, sealed, Buffer.from('orders:v1'));
 */
export function aeadDecrypt(
  alg: AeadAlgorithm,
  key: AeadKey,
  sealed: Uint8Array,
  aad: Uint8Array = Buffer.alloc(0),
): Buffer {
  checkAlgorithm(alg);
  checkKey(key);
  if (sealed.length < AEAD_NONCE_BYTES + AEAD_TAG_BYTES) throw new GatehouseError('ERR_KMS_DECRYPT_FAILED');
  const input = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const nonce = input.subarray(0, AEAD_NONCE_BYTES);
  const body = input.subarray(AEAD_NONCE_BYTES, input.length - AEAD_TAG_BYTES);
  const tag = input.subarray(input.length - AEAD_TAG_BYTES);
  // What this returns is often key material (the sealer unseals keys with it): no unwiped copy is left behind.
  let first: Buffer | undefined;
  try {
    const decipher = createDecipheriv(alg as CipherGCMTypes, key, nonce, { authTagLength: AEAD_TAG_BYTES });
    decipher.setAuthTag(tag);
    decipher.setAAD(aad, { plaintextLength: body.length });
    first = decipher.update(body);
    const last = decipher.final();
    if (last.length === 0) return first; // always, for these stream-mode AEADs: no copy at all
    const whole = Buffer.concat([first, last]);
    first.fill(0);
    last.fill(0);
    return whole;
  } catch {
    first?.fill(0); // unauthenticated plaintext
    throw new GatehouseError('ERR_KMS_DECRYPT_FAILED');
  }
}
