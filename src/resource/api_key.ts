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
