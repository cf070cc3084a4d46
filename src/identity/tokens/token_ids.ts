import { randomId } from '../../core/index.js';

/**
 * A fresh token identifier (`jti`): 128 bits from the CSPRNG as base64url (22 characters), i.e. `randomId(16)`, which
 * cuts it from a pooled block of random bytes (one CSPRNG call per token cost more than building its claims).
 *
 * @example
 * const jti = newTokenId(); // 'q3U1cM0b2bXn8Ck0A8QbTw'
 */
export function newTokenId(): string {
  return randomId(16);
}
