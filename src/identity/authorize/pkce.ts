import { constantTimeEqual, sha256Base64url } from '../../crypto/index.js';

/** RFC 7636 §4.1: a verifier is 43-128 characters of `[A-Za-z0-9-._~]`. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** An S256 challenge is the base64url SHA-256 of the verifier: 43 characters. */
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/**
 * True when `challenge` has the shape of an S256 code challenge.
 *
 * @example
 * isS256Challenge('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'); // true
 */
export function isS256Challenge(challenge: string): boolean {
  return CHALLENGE.test(challenge);
}

/**
 * Checks a PKCE verifier against the S256 challenge bound to the code (RFC 7636 §4.6), in constant time. A malformed
 * verifier never matches. (`plain` is refused at the authorization endpoint, so it never reaches here.)
 *
 * @example
 * verifierMatches('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'); // true
 */
export function verifierMatches(verifier: string, challenge: string): boolean {
  if (!VERIFIER.test(verifier)) return false;
  return constantTimeEqual(sha256Base64url(verifier), challenge);
}
