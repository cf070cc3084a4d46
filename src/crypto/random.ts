import { randomBytes, randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const MAX_POOLED = 64;
let pool = Buffer.alloc(0);
let poolAt = POOL_BYTES;

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
 * Copies `length` fresh bytes from the CSPRNG into `target` at `offset`: data keys, nonces and salts of one message.
 * Up to 64 bytes at a time are cut from a 4 KiB block drawn from the CSPRNG at once, each slice copied out once and
 * wiped in the block at once; larger requests go to the CSPRNG directly. Every call of Node's CSPRNG costs a system
 * call (OpenSSL checks its process id for fork safety), which on virtual machines that trap system calls cost more
 * than sealing a 1 KiB record. The block is its own allocation outside Node's shared Buffer pool; holding up to
 * 4 KiB of not-yet-used output in process memory exposes no more than OpenSSL's DRBG state beside it, from which all
 * of its future output follows. A Node process never forks with its heap, so no two processes share a block.
 *
 * @example
 * const random = Buffer.allocUnsafeSlow(56);
 * fillRandom(random, 0, 56); // DEK 32 ‖ nonce 12 ‖ nonce 12
 */
export function fillRandom(target: Buffer, offset: number, length: number): void {
  if (length > MAX_POOLED) {
    randomFillSync(target, offset, length);
    return;
  }
  if (poolAt + length > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(POOL_BYTES));
    poolAt = 0;
  }
  pool.copy(target, offset, poolAt, poolAt + length);
  pool.fill(0, poolAt, poolAt + length);
  poolAt += length;
}

/**
 * Writes a fresh random 96-bit AEAD nonce into `target` at `offset` (from the block of {@link fillRandom}).
 *
 * @example
 * writeNonce(envelope, headerLength);
 */
export function writeNonce(target: Buffer, offset: number): void {
  fillRandom(target, offset, 12);
}
