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
  const { digest, data, keyInput } = signArguments(signingInput, key);
  return sign(digest, data, keyInput);
}

/** node:crypto `sign`'s arguments for `key`'s pinned algorithm (ECDSA signatures in IEEE-P1363 `r||s` form). */
function signArguments(signingInput: string, key: SigningKey) {
  const spec = algorithmSpec(key.alg);
  return {
    digest: spec.digest,
    data: Buffer.from(signingInput, 'ascii'),
    keyInput: spec.dsaEncoding === undefined ? key.privateKey : { key: key.privateKey, dsaEncoding: spec.dsaEncoding },
  };
}

/**
 * {@link jwsSign} on libuv's thread pool (node:crypto's callback form): the event loop goes on serving other
 * connections while the signature is computed, so a busy token endpoint uses a second core for its dominant cost.
 *
 * @example
 * const sig = await jwsSignAsync('eyJhbGciOiJFUzI1NiJ9.e30', ecKey);
 */
export function jwsSignAsync(signingInput: string, key: SigningKey): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const { digest, data, keyInput } = signArguments(signingInput, key);
    sign(digest, data, keyInput, (err, signature) => (err ? reject(err) : resolve(signature)));
  });
}

function encodeHeader(header: JwtHeaderInput, key: SigningKey): string {
  const fullHeader = { ...header, alg: key.alg, kid: key.kid };
  const ordered = Object.assign({ alg: key.alg, kid: key.kid }, fullHeader);
  return Buffer.from(JSON.stringify(ordered), 'utf8').toString('base64url');
}

/** Encoded headers of the common shape `{ typ }` per key (a token endpoint signs thousands a second with one key). */
const typHeaders = new WeakMap<SigningKey, { alg: string; kid: string; byTyp: Map<string, string> }>();
const MAX_TYPS_PER_KEY = 8;

/** The base64url header of `header` under `key`: from the per-key cache when it is exactly `{ typ }`. */
function encodedHeader(header: JwtHeaderInput, key: SigningKey): string {
  const typ = header.typ;
  let only = typeof typ === 'string';
  for (const name in header) if (name !== 'typ') only = false;
  if (!only) return encodeHeader(header, key);
  let entry = typHeaders.get(key);
  if (entry === undefined || entry.alg !== key.alg || entry.kid !== key.kid) {
    entry = { alg: key.alg, kid: key.kid, byTyp: new Map() };
    typHeaders.set(key, entry);
  }
  let encoded = entry.byTyp.get(typ as string);
  if (encoded === undefined) {
    encoded = encodeHeader(header, key);
    if (entry.byTyp.size < MAX_TYPS_PER_KEY) entry.byTyp.set(typ as string, encoded);
  }
  return encoded;
}

/**
 * Signs a JWT in compact serialization. The header's `alg` and `kid` are set from the key (overriding the input);
 * the header members are written as `alg`, `kid`, then the caller's in their order.
 *
 * @example
 * const token = signJwt({ typ: 'at+jwt' }, { iss, sub: 'alice', aud: 'orders', exp, iat, jti, client_id }, key);
 */
export function signJwt(header: JwtHeaderInput, payload: Record<string, unknown>, key: SigningKey): string {
  const signingInput = jwtSigningInput(header, payload, key);
  return `${signingInput}.${jwsSign(signingInput, key).toString('base64url')}`;
}

/** `<base64url header>.<base64url payload>`, the text a JWT's signature covers. */
function jwtSigningInput(header: JwtHeaderInput, payload: Record<string, unknown>, key: SigningKey): string {
  return `${encodedHeader(header, key)}.${Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url')}`;
}

/**
 * {@link signJwt} with the signature computed on libuv's thread pool ({@link jwsSignAsync}); same output.
 *
 * @example
 * const token = await signJwtAsync({ typ: 'at+jwt' }, claims, key);
 */
export async function signJwtAsync(
  header: JwtHeaderInput,
  payload: Record<string, unknown>,
  key: SigningKey,
): Promise<string> {
  const signingInput = jwtSigningInput(header, payload, key);
  const signature = await jwsSignAsync(signingInput, key);
  return `${signingInput}.${signature.toString('base64url')}`;
}
