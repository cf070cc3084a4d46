import type { KeyObject } from 'node:crypto';
import { GatehouseError } from '../../core/index.js';

/** The JWS algorithms gatehouse signs and verifies with. Nothing else is ever accepted. */
export type JwsAlgorithm = 'ES256' | 'EdDSA' | 'RS256';

/** Every supported {@link JwsAlgorithm}, in order of preference. */
export const JWS_ALGORITHMS: readonly JwsAlgorithm[] = Object.freeze(['ES256', 'EdDSA', 'RS256']);

/** The smallest RSA modulus accepted for RS256, in bits. */
export const RSA_MIN_MODULUS_BITS = 2048;

/** How node:crypto computes one algorithm: digest name (null for EdDSA) and signature encoding. */
export interface AlgorithmSpec {
  readonly digest: 'sha256' | null;
  readonly keyType: 'ec' | 'ed25519' | 'rsa';
  /** Exact signature length in bytes, when the algorithm fixes it. */
  readonly signatureBytes: number | undefined;
  readonly dsaEncoding: 'ieee-p1363' | undefined;
}

const SPECS: Record<JwsAlgorithm, AlgorithmSpec> = {
  ES256: { digest: 'sha256', keyType: 'ec', signatureBytes: 64, dsaEncoding: 'ieee-p1363' },
  EdDSA: { digest: null, keyType: 'ed25519', signatureBytes: 64, dsaEncoding: undefined },
  RS256: { digest: 'sha256', keyType: 'rsa', signatureBytes: undefined, dsaEncoding: undefined },
};

/**
 * True when `value` names a supported algorithm (exact, case-sensitive match: `none`, `HS256`, `es256` are not).
 *
 * @example
 * isJwsAlgorithm('ES256'); // true
 * isJwsAlgorithm('none'); // false
 */
export function isJwsAlgorithm(value: unknown): value is JwsAlgorithm {
  return value === 'ES256' || value === 'EdDSA' || value === 'RS256';
}

/**
 * The node:crypto parameters of `alg`.
 *
 * @example
 * algorithmSpec('ES256').dsaEncoding; // 'ieee-p1363'
 */
export function algorithmSpec(alg: JwsAlgorithm): AlgorithmSpec {
  return SPECS[alg];
}

/**
 * Checks that `key` is a key of the type `alg` needs (P-256 for ES256, Ed25519 for EdDSA, RSA of at least 2048 bits
 * for RS256), judging from the key object itself, never from strings supplied with it. Throws ERR_JWK_INVALID.
 *
 * @example
 * assertKeyFitsAlgorithm(publicKey, 'ES256');
 */
export function assertKeyFitsAlgorithm(key: KeyObject, alg: JwsAlgorithm): void {
  const spec = SPECS[alg];
  if (key.type === 'secret' || key.asymmetricKeyType !== spec.keyType) {
    throw new GatehouseError('ERR_JWK_INVALID', { detail: `key type ${key.asymmetricKeyType ?? key.type} for ${alg}` });
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (alg === 'ES256' && details.namedCurve !== 'prime256v1') {
    throw new GatehouseError('ERR_JWK_INVALID', { detail: `curve ${details.namedCurve ?? '?'} for ES256` });
  }
  if (alg === 'RS256' && (details.modulusLength ?? 0) < RSA_MIN_MODULUS_BITS) {
    throw new GatehouseError('ERR_JWK_INVALID', {
      message: `RSA keys must have at least ${RSA_MIN_MODULUS_BITS} bits`,
      detail: `modulus ${details.modulusLength ?? 0} bits`,
    });
  }
}
