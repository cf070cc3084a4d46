import { sign } from 'node:crypto';
import { algorithmSpec } from './algorithms.js';
import type { SigningKey } from './key_types.js';

/** Header members a caller may set; `alg` and `kid` always come from the key. */
export interface JwtHeaderInput {
  typ?: string;
  cty?: string;
  [name: string]: unknown;
}

/**
 * The raw JWS signature over `signingInput` (ES256 in IEEE-P1363 `r||s` form).
 *
 * @example
 * const sig = jwsSign('eyJhbGciOiJFZERTQSJ9.RXhhbXBsZQ', edKey);
 */
export function jwsSign(signingInput: string, key: SigningKey): Buffer {
  const spec = algorithmSpec(key.alg);
  const data = Buffer.from(signingInput, 'ascii');
  if (spec.dsaEncoding !== undefined) {
    return sign(spec.digest, data, { key: key.privateKey, dsaEncoding: spec.dsaEncoding });
  }
  return sign(spec.digest, data, key.privateKey);
}

/**
 * Signs a JWT in compact serialization. The header's `alg` and `kid` are set from the key (overriding the input);
 * the header members are written as `alg`, `kid`, then the caller's in their order.
 *
 * @example
 * const token = signJwt({ typ: 'at+jwt' }, { iss, sub: 'alice', aud: 'orders', exp, iat, jti, client_id }, key);
 */
export function signJwt(header: JwtHeaderInput, payload: Record<string, unknown>, key: SigningKey): string {
  const fullHeader = { ...header, alg: key.alg, kid: key.kid };
  const ordered = Object.assign({ alg: key.alg, kid: key.kid }, fullHeader);
  const h = Buffer.from(JSON.stringify(ordered), 'utf8').toString('base64url');
  const p = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  const signingInput = `${h}.${p}`;
  return `${signingInput}.${jwsSign(signingInput, key).toString('base64url')}`;
}
