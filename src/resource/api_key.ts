import { sha256Base64url } from '../crypto/index.js';

/**
 * The prefix of every gatehouse API key (`ghk_` followed by the key's random part). The server-side issuer uses the
 * same constant, so a verifier tells an API key from a JWT by this prefix alone, without parsing.
 *
 * @example
 * if (isApiKey(credential)) principal = await introspect(credential);
 */
export const API_KEY_PREFIX = 'ghk_';

/** The longest API key accepted, in characters. */
export const MAX_API_KEY_LENGTH = 512;

/**
 * True when `credential` has the API key prefix and only URL-safe characters after it.
 *
 * @example
 * isApiKey('ghk_4f9a...'); // true
 */
export function isApiKey(credential: string): boolean {
  return (
    credential.startsWith(API_KEY_PREFIX) &&
    credential.length > API_KEY_PREFIX.length &&
    credential.length <= MAX_API_KEY_LENGTH &&
    /^[A-Za-z0-9_-]+$/.test(credential)
  );
}

/** Length of a gatehouse API key: the prefix, a 43-character random body (256 bits) and a 6-character checksum. */
export const API_KEY_LENGTH = 53;

const CHECKSUM_CHARS = 6;
const SHAPE = /^ghk_[A-Za-z0-9_-]{49}$/;

/**
 * True when `credential` has the shape of a gatehouse API key and its checksum (the first 36 bits of SHA-256 over the
 * prefix and body, base64url) matches: the issuer's own check before any lookup (identity's `isWellFormedApiKey`; a
 * test keeps the two in agreement). The verifier runs it before introspecting, so mistyped and made-up keys cost no
 * call to the issuer. The checksum is public: it filters garbage and scanners, not a determined caller.
 *
 * @example
 * if (!isWellFormedApiKey(presented)) throw invalidToken;
 */
export function isWellFormedApiKey(credential: string): boolean {
  if (typeof credential !== 'string' || credential.length !== API_KEY_LENGTH || !SHAPE.test(credential)) return false;
  const head = credential.slice(0, API_KEY_LENGTH - CHECKSUM_CHARS);
  return sha256Base64url(head).slice(0, CHECKSUM_CHARS) === credential.slice(-CHECKSUM_CHARS);
}
