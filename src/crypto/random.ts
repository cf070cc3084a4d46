import { randomBytes, randomFillSync } from 'node:crypto';

const NONCE_POOL_BYTES = 4096;
let noncePool = Buffer.alloc(0);
let nonceAt = NONCE_POOL_BYTES;

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

/**
 * Writes a fresh random 96-bit AEAD nonce into `target` at `offset`. Nonces are public, so they are cut from a 4 KiB
 * block drawn from the CSPRNG at once (each slice used once, then wiped): one CSPRNG call per message cost more than
 * sealing a 1 KiB record. Keys never come from this pool.
 *
 * @example
 * writeNonce(envelope, headerLength);
 */
export function writeNonce(target: Buffer, offset: number): void {
  if (nonceAt + 12 > noncePool.length) {
    noncePool = randomFillSync(Buffer.allocUnsafeSlow(NONCE_POOL_BYTES));
    nonceAt = 0;
  }
  noncePool.copy(target, offset, nonceAt, nonceAt + 12);
  noncePool.fill(0, nonceAt, nonceAt + 12);
  nonceAt += 12;
}
