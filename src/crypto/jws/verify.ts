import { verify } from 'node:crypto';
import { GatehouseError } from '../../core/index.js';
import { algorithmSpec } from './algorithms.js';
import type { DecodedJwt } from './decode.js';
import type { VerificationKey } from './key_types.js';

/** Header members that would let a token name its own key or extensions: always refused. */
export const FORBIDDEN_HEADERS: readonly string[] = Object.freeze(['jwk', 'jku', 'x5u', 'x5c', 'crit']);

/**
 * True when `signature` is a valid signature of `signingInput` under `key` with the key's pinned algorithm.
 * Checks the signature length the algorithm fixes; never throws for a bad signature.
 *
 * @example
 * jwsVerify(input, signature, verificationKey); // true | false
 */
export function jwsVerify(signingInput: string, signature: Uint8Array, key: VerificationKey): boolean {
  const spec = algorithmSpec(key.alg);
  if (spec.signatureBytes !== undefined && signature.length !== spec.signatureBytes) return false;
  const data = Buffer.from(signingInput, 'ascii');
  try {
    if (spec.dsaEncoding !== undefined) {
      return verify(spec.digest, data, { key: key.publicKey, dsaEncoding: spec.dsaEncoding }, signature);
    }
    return verify(spec.digest, data, key.publicKey, signature);
  } catch {
    return false;
  }
}

/**
 * Verifies the signature of a decoded JWT against one pinned key. Refuses (ERR_JWS_INVALID, fixed message) when the
 * header's `alg` is not EXACTLY the key's `alg` (so `none`, `HS256` and RS/ES swaps fail), when the header carries
 * `jwk`, `jku`, `x5u`, `x5c` or `crit`, when a header `kid` names another key, or when the signature does not verify.
 * Claims (exp, iss, aud, ...) are not checked here.
 *
 * @example
 * const decoded = decodeJwt(token);
 * verifyJwtSignature(decoded, keys.get(decoded.header.kid));
 */
export function verifyJwtSignature(decoded: DecodedJwt, key: VerificationKey): void {
  const header = decoded.header;
  let reason: string | undefined;
  if (header.alg !== key.alg) reason = 'alg does not match the pinned algorithm';
  else if (header.kid !== undefined && header.kid !== key.kid) reason = 'kid does not match the key';
  else {
    for (const name of FORBIDDEN_HEADERS) {
      if (Object.prototype.hasOwnProperty.call(header, name)) {
        reason = `forbidden header ${name}`;
        break;
      }
    }
  }
  if (reason === undefined && !jwsVerify(decoded.signingInput, decoded.signature, key)) reason = 'bad signature';
  if (reason !== undefined) throw new GatehouseError('ERR_JWS_INVALID', { detail: reason });
}
