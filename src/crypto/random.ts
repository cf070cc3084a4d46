import { randomBytes } from 'node:crypto';

/**
 * `n` bytes from the operating system's CSPRNG.
 *
 * @example
 * const salt = secureRandomBytes(16);
 */
export function secureRandomBytes(n: number): Buffer {
  return randomBytes(n);
}

/**
 * A fresh 256-bit symmetric key (AES-256-GCM, ChaCha20-Poly1305, HMAC-SHA256).
 *
 * @example
 * const dek = randomKey();
 */
export function randomKey(): Buffer {
  return randomBytes(32);
}

/**
 * A fresh random 96-bit AEAD nonce.
 *
 * @example
 * const nonce = randomNonce(); // 12 bytes
 */
export function randomNonce(): Buffer {
  return randomBytes(12);
}

/**
 * An unguessable token of `bytes` random bytes (32 by default), base64url without padding.
 *
 * @example
 * const token = randomToken(); // 43 characters
 */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
