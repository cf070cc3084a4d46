import { sha256, signJwt, signJwtAsync, type SigningKey } from '../../crypto/index.js';

/** Algorithms an ID token may be signed with: RS256 by default (OpenID Connect Discovery requires it), ES256 per client. */
export const ID_TOKEN_ALGS = ['RS256', 'ES256'] as const;
export type IdTokenAlg = (typeof ID_TOKEN_ALGS)[number];

/** ID token lifetime: short, it is proof of a sign-in, not a credential. */
export const ID_TOKEN_TTL_SECONDS = 300;

/** What an OpenID Connect ID token says (OpenID Connect Core 1.0 §2). */
export interface IdTokenClaims {
  issuer: string;
  subject: string;
  /** The client_id (the ID token's only audience). */
  clientId: string;
  /** When the person signed in (ms). */
  authTime: number;
  /** Echoed from the authorization request (absent on refresh). */
  nonce?: string;
  /** The access token issued beside it: its at_hash is included. */
  accessToken?: string;
  /** Further claims allowed by the granted scopes (e.g. preferred_username, roles). */
  extra?: Record<string, unknown>;
}

/**
 * `at_hash` (OpenID Connect Core §3.1.3.6): base64url of the left half of the SHA-256 of the access token's ASCII
 * text (SHA-256 fits RS256 and ES256 alike).
 *
 * @example
 * atHash('eyJ...'); // 'x8Dp...' (22 characters)
 */
export function atHash(accessToken: string): string {
  return sha256(accessToken).subarray(0, 16).toString('base64url');
}

/**
 * Signs an ID token: header `typ: JWT` (never `at+jwt`, so that resource servers refuse it as an access token),
 * claims iss, sub, aud (= client_id), exp, iat, auth_time, nonce when given, at_hash when an access token is given,
 * and the scope-allowed claims. Times are whole seconds.
 *
 * @example
 * const idToken = issueIdToken({ issuer, subject: 'alice', clientId, authTime, nonce, accessToken }, keys.signer('RS256'), now);
 */
export function issueIdToken(claims: IdTokenClaims, key: SigningKey, now: number): string {
  return signJwt({ typ: 'JWT' }, idTokenPayload(claims, now), key);
}

/**
 * {@link issueIdToken} with the signature computed on libuv's thread pool (an RS256 signature holds a core for about
 * a millisecond): what the token endpoint uses.
 *
 * @example
 * const idToken = await issueIdTokenAsync({ issuer, subject: 'alice', clientId, authTime }, keys.signer('RS256'), now);
 */
export function issueIdTokenAsync(claims: IdTokenClaims, key: SigningKey, now: number): Promise<string> {
  return signJwtAsync({ typ: 'JWT' }, idTokenPayload(claims, now), key);
}

function idTokenPayload(claims: IdTokenClaims, now: number): Record<string, unknown> {
  const iat = Math.floor(now / 1000);
  const payload: Record<string, unknown> = {
    ...claims.extra,
    iss: claims.issuer,
    sub: claims.subject,
    aud: claims.clientId,
    exp: iat + ID_TOKEN_TTL_SECONDS,
    iat,
    auth_time: Math.floor(claims.authTime / 1000),
  };
  if (claims.nonce !== undefined) payload.nonce = claims.nonce;
  if (claims.accessToken !== undefined) payload.at_hash = atHash(claims.accessToken);
  return payload;
}
