import { GatehouseError } from '../core/index.js';
import type { DecodedJwt } from '../crypto/index.js';

/** What an RFC 9068 access token must say to be accepted here. */
export interface ClaimRules {
  issuer: string;
  audience: string;
  clockSkewSeconds: number;
}

/** The `typ` values of an RFC 9068 JWT access token (compared case-insensitively, as RFC 7515 §4.1.9 allows). */
export const ACCESS_TOKEN_TYPES: readonly string[] = Object.freeze(['at+jwt', 'application/at+jwt']);

function invalid(detail: string): GatehouseError {
  return new GatehouseError('ERR_TOKEN_INVALID', { oauthError: 'invalid_token', detail });
}

/**
 * True when the header's `typ` marks an access token (`at+jwt`, `application/at+jwt`). ID tokens (`typ: JWT`) and
 * untyped JWTs are not access tokens.
 *
 * @example
 * isAccessTokenType(decoded.header.typ); // false for an ID token
 */
export function isAccessTokenType(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const t = typ.length === 6 || typ.length === 18 ? typ.toLowerCase() : '';
  return t === 'at+jwt' || t === 'application/at+jwt';
}

/**
 * Checks the RFC 9068 §4 claims of a decoded (signature-verified) access token at `nowSeconds`: typ, exact `iss`,
 * `aud` containing this service, `exp`/`nbf` with skew, the required `sub`, `client_id`, `iat`, `jti`, and no ID-token
 * markers (`nonce`, `at_hash`, `c_hash`). Throws ERR_TOKEN_INVALID.
 *
 * @example
 * checkAccessTokenClaims(decoded, { issuer, audience: 'orders', clockSkewSeconds: 30 }, epochSeconds(clock));
 */
export function checkAccessTokenClaims(decoded: DecodedJwt, rules: ClaimRules, nowSeconds: number): void {
  if (!isAccessTokenType(decoded.header.typ)) throw invalid('typ is not at+jwt');
  const c = decoded.payload;
  if (c['iss'] !== rules.issuer) throw invalid('iss mismatch');
  const aud = c['aud'];
  if (!(aud === rules.audience || (Array.isArray(aud) && aud.includes(rules.audience)))) throw invalid('aud mismatch');
  const exp = c['exp'];
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw invalid('exp missing');
  if (nowSeconds - rules.clockSkewSeconds >= exp) throw invalid('expired');
  const nbf = c['nbf'];
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowSeconds + rules.clockSkewSeconds)) {
    throw invalid('not yet valid');
  }
  const iat = c['iat'];
  if (typeof iat !== 'number' || iat > nowSeconds + rules.clockSkewSeconds)
    throw invalid('iat missing or in the future');
  if (typeof c['sub'] !== 'string' || typeof c['client_id'] !== 'string' || typeof c['jti'] !== 'string') {
    throw invalid('sub, client_id or jti missing');
  }
  if ('nonce' in c || 'at_hash' in c || 'c_hash' in c) throw invalid('ID token claims present');
}
