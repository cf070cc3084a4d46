import { createPublicKey, type KeyObject, type JsonWebKey as NodeJwk } from 'node:crypto';
import { GatehouseError } from '../../core/index.js';
import { sha256Base64url } from '../hash.js';
import { assertKeyFitsAlgorithm, isJwsAlgorithm, type JwsAlgorithm } from './algorithms.js';
import type { SigningKey, VerificationKey } from './key_types.js';

/** A public JSON Web Key as gatehouse publishes it: key members plus `kid`, `alg` and `use: "sig"`. */
export interface PublicJwk {
  kty: 'EC' | 'OKP' | 'RSA';
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  kid: string;
  alg: JwsAlgorithm;
  use: 'sig';
}

/** The largest `kid` accepted from a JWK. */
export const MAX_KID_LENGTH = 256;

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The JWK members each algorithm's key must have: kty, crv and the coordinate names. */
const SHAPES: Record<JwsAlgorithm, { kty: PublicJwk['kty']; crv?: string; members: readonly string[] }> = {
  ES256: { kty: 'EC', crv: 'P-256', members: ['x', 'y'] },
  EdDSA: { kty: 'OKP', crv: 'Ed25519', members: ['x'] },
  RS256: { kty: 'RSA', members: ['n', 'e'] },
};

function invalid(detail: string): GatehouseError {
  return new GatehouseError('ERR_JWK_INVALID', { detail });
}

function isSigningKey(key: SigningKey | VerificationKey): key is SigningKey {
  return 'privateKey' in key;
}

/**
 * The public JWK of a signing or verification key (kty/crv/x/y or n/e, then kid, alg and `use: "sig"`).
 *
 * @example
 * const jwks = { keys: [publicJwk(signingKey)] };
 */
export function publicJwk(key: SigningKey | VerificationKey): PublicJwk {
  const pub = isSigningKey(key) ? createPublicKey(key.privateKey) : key.publicKey;
  const raw = pub.export({ format: 'jwk' });
  const shape = SHAPES[key.alg];
  const out: Record<string, unknown> = { kty: shape.kty };
  if (shape.crv !== undefined) out['crv'] = raw.crv;
  for (const m of shape.members) out[m] = raw[m];
  Object.assign(out, { kid: key.kid, alg: key.alg, use: 'sig' });
  return out as unknown as PublicJwk;
}

/**
 * Imports a public JWK as a {@link VerificationKey}. `alg` and `kid` are REQUIRED; `alg` must be one of ours and agree
 * with `kty`/`crv`; private members, `use` other than `sig`, and RSA keys under 2048 bits are refused. The key type is
 * checked on the imported key object, never inferred from strings. Throws ERR_JWK_INVALID.
 *
 * @example
 * const keys = jwks.keys.map((jwk) => verificationKeyFromJwk(jwk));
 */
export function verificationKeyFromJwk(jwk: unknown): VerificationKey {
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) throw invalid('not an object');
  const j = jwk as Record<string, unknown>;
  const alg = j['alg'];
  if (!isJwsAlgorithm(alg)) throw invalid('alg missing or unsupported');
  const kid = j['kid'];
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH) throw invalid('kid missing');
  if (j['use'] !== undefined && j['use'] !== 'sig') throw invalid('use is not sig');
  for (const m of PRIVATE_MEMBERS) if (m in j) throw invalid('private key member present');
  const shape = SHAPES[alg];
  if (j['kty'] !== shape.kty) throw invalid('kty does not match alg');
  const material: NodeJwk = { kty: shape.kty };
  if (shape.crv !== undefined) {
    if (j['crv'] !== shape.crv) throw invalid('crv does not match alg');
    material.crv = shape.crv;
  }
  for (const m of shape.members) {
    const v = j[m];
    if (typeof v !== 'string' || v.length === 0 || !/^[A-Za-z0-9_-]+$/.test(v)) throw invalid(`member ${m} missing`);
    material[m] = v;
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: material, format: 'jwk' });
  } catch {
    throw invalid('key material does not parse');
  }
  assertKeyFitsAlgorithm(publicKey, alg);
  return Object.freeze({ kid, alg, publicKey });
}

/**
 * The RFC 7638 JWK thumbprint (SHA-256, base64url): a hash of the required members only, in lexical order.
 *
 * @example
 * jwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' });
 */
export function jwkThumbprint(key: object): string {
  const jwk = key as Record<string, unknown>;
  let required: string[];
  if (jwk['kty'] === 'EC') required = ['crv', 'kty', 'x', 'y'];
  else if (jwk['kty'] === 'OKP') required = ['crv', 'kty', 'x'];
  else if (jwk['kty'] === 'RSA') required = ['e', 'kty', 'n'];
  else throw invalid('unsupported kty for thumbprint');
  const canonical: Record<string, string> = {};
  for (const m of required) {
    const v = jwk[m];
    if (typeof v !== 'string') throw invalid(`member ${m} missing`);
    canonical[m] = v;
  }
  return sha256Base64url(JSON.stringify(canonical));
}
