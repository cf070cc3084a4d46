import { timingSafeEqual } from 'node:crypto';
import { randomToken, sha256, sha256Base64url } from '../../crypto/index.js';
import type { ClientSecretDigest } from './client.js';

/** Prefix of client secrets, so that secret scanners can recognize a leaked one. */
export const CLIENT_SECRET_PREFIX = 'ghcs_';

/**
 * A new client secret: 256 random bits, base64url, with a recognizable prefix. Shown once; only its digest is stored.
 *
 * @example
 * const { secret, digest } = newClientSecret();
 */
export function newClientSecret(): { secret: string; digest: string } {
  const secret = `${CLIENT_SECRET_PREFIX}${randomToken(32)}`;
  return { secret, digest: clientSecretDigest(secret) };
}

/**
 * The stored form of a secret: its SHA-256 as base64url. A fast hash is enough: the secret has 256 bits of entropy.
 *
 * @example
 * clientSecretDigest('ghcs_...'); // 43 characters
 */
export function clientSecretDigest(secret: string): string {
  return sha256Base64url(secret);
}

/** Stored digests decoded once per digest record (they are immutable; a rotation makes new records). */
const decodedDigests = new WeakMap<ClientSecretDigest, Buffer>();

function decodedDigest(stored: ClientSecretDigest): Buffer {
  let bytes = decodedDigests.get(stored);
  if (bytes === undefined) {
    bytes = Buffer.from(stored.digest, 'base64url');
    decodedDigests.set(stored, bytes);
  }
  return bytes;
}

/**
 * True when `presented` matches one of the digests that is still valid at `now` (a rotated-out secret works until its
 * `expiresAt`, exclusive). Every digest is compared in constant time, whatever matched.
 *
 * @example
 * if (!secretMatches(client.secrets, presented, clock.now())) throw oauthError('invalid_client');
 */
export function secretMatches(secrets: readonly ClientSecretDigest[], presented: string, now: number): boolean {
  if (presented.length === 0 || presented.length > 512) return false;
  // One SHA-256 of the presented secret, compared in constant time with each stored digest (32 bytes each; the
  // digests are not secret and all have the same length).
  const digest = sha256(presented);
  let ok = false;
  for (const stored of secrets) {
    const live = stored.expiresAt === null || now < stored.expiresAt;
    const expected = decodedDigest(stored);
    if (expected.length === digest.length && timingSafeEqual(digest, expected) && live) ok = true;
  }
  return ok;
}
