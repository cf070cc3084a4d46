import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { GatehouseError } from '../../core/index.js';
import { assertKeyFitsAlgorithm, isJwsAlgorithm, RSA_MIN_MODULUS_BITS, type JwsAlgorithm } from './algorithms.js';
import { jwkThumbprint, publicJwk } from './jwk.js';
import type { SigningKey, VerificationKey } from './key_types.js';

/** Options of {@link generateSigningKey}. */
export interface GenerateSigningKeyOptions {
  /** RSA modulus for RS256 (default and minimum 2048). */
  modulusLength?: number;
}

/**
 * Generates a fresh signing key for `alg`. The `kid` defaults to the RFC 7638 thumbprint of the public key.
 *
 * @example
 * const key = generateSigningKey('ES256');
 * const token = signJwt({ typ: 'at+jwt' }, { sub: 'alice' }, key);
 */
export function generateSigningKey(
  alg: JwsAlgorithm,
  kid?: string,
  options: GenerateSigningKeyOptions = {},
): SigningKey {
  if (!isJwsAlgorithm(alg)) throw new GatehouseError('ERR_JWK_INVALID', { detail: 'unsupported algorithm' });
  let privateKey: KeyObject;
  if (alg === 'ES256') privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  else if (alg === 'EdDSA') privateKey = generateKeyPairSync('ed25519').privateKey;
  else {
    const modulusLength = Math.max(options.modulusLength ?? RSA_MIN_MODULUS_BITS, RSA_MIN_MODULUS_BITS);
    privateKey = generateKeyPairSync('rsa', { modulusLength, publicExponent: 0x10001 }).privateKey;
  }
  const name = kid ?? jwkThumbprint(publicJwk({ kid: 'x', alg, privateKey }));
  return Object.freeze({ kid: name, alg, privateKey });
}

/**
 * The verification half of a signing key.
 *
 * @example
 * const vk = verificationKeyOf(generateSigningKey('EdDSA', 'k1'));
 */
export function verificationKeyOf(key: SigningKey): VerificationKey {
  return Object.freeze({ kid: key.kid, alg: key.alg, publicKey: createPublicKey(key.privateKey) });
}

interface ExportedSigningKey {
  v: 1;
  alg: JwsAlgorithm;
  kid: string;
  pkcs8: string;
}

/**
 * Serializes a signing key for sealing in the keyring: JSON `{v, alg, kid, pkcs8}` with the PKCS#8 DER in base64url.
 * The result is secret: seal it, never log it.
 *
 * @example
 * const bytes = exportSigningKey(key);
 * const same = importSigningKey(bytes);
 */
export function exportSigningKey(key: SigningKey): Buffer {
  const der = key.privateKey.export({ format: 'der', type: 'pkcs8' });
  const out: ExportedSigningKey = { v: 1, alg: key.alg, kid: key.kid, pkcs8: der.toString('base64url') };
  return Buffer.from(JSON.stringify(out), 'utf8');
}

/**
 * Reads the output of {@link exportSigningKey}, checking that the key fits its algorithm. Throws ERR_JWK_INVALID.
 *
 * @example
 * const key = importSigningKey(unsealedBytes);
 */
export function importSigningKey(bytes: Uint8Array): SigningKey {
  let parsed: Partial<ExportedSigningKey>;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<ExportedSigningKey>;
  } catch {
    throw new GatehouseError('ERR_JWK_INVALID', { detail: 'exported signing key is not JSON' });
  }
  if (parsed === null || typeof parsed !== 'object' || parsed.v !== 1 || !isJwsAlgorithm(parsed.alg)) {
    throw new GatehouseError('ERR_JWK_INVALID', { detail: 'exported signing key: bad version or algorithm' });
  }
  if (typeof parsed.kid !== 'string' || parsed.kid.length === 0 || typeof parsed.pkcs8 !== 'string') {
    throw new GatehouseError('ERR_JWK_INVALID', { detail: 'exported signing key: missing kid or key' });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: Buffer.from(parsed.pkcs8, 'base64url'), format: 'der', type: 'pkcs8' });
  } catch {
    throw new GatehouseError('ERR_JWK_INVALID', { detail: 'exported signing key: PKCS#8 does not parse' });
  }
  assertKeyFitsAlgorithm(privateKey, parsed.alg);
  return Object.freeze({ kid: parsed.kid, alg: parsed.alg, privateKey });
}
