import { randomFillSync } from 'node:crypto';

const ID_BYTES = 16;
const POOL_BYTES = 256 * ID_BYTES;
let pool = Buffer.alloc(0);
let at = POOL_BYTES;

/**
 * A fresh token identifier (`jti`): 128 bits from the CSPRNG as base64url (22 characters), the same form as
 * `randomId(16)`. The random bytes are drawn 4 KiB at a time and each 16-byte slice is used once, because one
 * `randomBytes` call per token costs more than the rest of building its claims.
 *
 * @example
 * const jti = newTokenId(); // 'q3U1cM0b2bXn8Ck0A8QbTw'
 */
export function newTokenId(): string {
  if (at + ID_BYTES > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(POOL_BYTES));
    at = 0;
  }
  const id = pool.toString('base64url', at, at + ID_BYTES);
  pool.fill(0, at, at + ID_BYTES);
  at += ID_BYTES;
  return id;
}
