import { hash } from 'node:crypto';
import { secureRandomBytes, sha256 } from '../../crypto/index.js';

/**
 * The prefix of every gatehouse API key. It equals `API_KEY_PREFIX` of src/resource (identity may not import the
 * resource module; a test checks that the two agree), so secret scanners and verifiers recognize a key by it alone.
 */
export const API_KEY_PREFIX = 'ghk_';

/** Random bytes in a key: 256 bits. */
const BODY_BYTES = 32;
/** base64url length of the random body. */
const BODY_CHARS = 43;
/** base64url characters of the checksum (36 bits of SHA-256 over prefix and body). */
const CHECKSUM_CHARS = 6;

/** Length of every API key: prefix, 43-character body, 6-character checksum. */
export const API_KEY_LENGTH = API_KEY_PREFIX.length + BODY_CHARS + CHECKSUM_CHARS;

const SHAPE = /^ghk_[A-Za-z0-9_-]{49}$/;

function checksumOf(prefixAndBody: string): string {
  return sha256(prefixAndBody).toString('base64url').slice(0, CHECKSUM_CHARS);
}

/**
 * A new API key: `ghk_` + 256 random bits (base64url, 43 characters) + a 6-character checksum (the first 36 bits of
 * SHA-256 over `ghk_` and the body, base64url). The checksum lets a malformed or mistyped key be refused before any
 * lookup.
 *
 * @example
 * const key = newApiKey(); // 'ghk_…' (53 characters)
 */
export function newApiKey(): string {
  const body = secureRandomBytes(BODY_BYTES).toString('base64url');
  const head = `${API_KEY_PREFIX}${body}`;
  return `${head}${checksumOf(head)}`;
}

/**
 * True when `key` has the API key shape and its checksum matches. Cheap (one SHA-256 of 47 bytes): run it before any
 * lookup so garbage never reaches the index or the store.
 *
 * @example
 * if (!isWellFormedApiKey(presented)) return inactive;
 */
export function isWellFormedApiKey(key: string): boolean {
  if (typeof key !== 'string' || key.length !== API_KEY_LENGTH || !SHAPE.test(key)) return false;
  const head = key.slice(0, API_KEY_LENGTH - CHECKSUM_CHARS);
  // The checksum is public (not a secret), so a plain comparison is fine.
  return checksumOf(head) === key.slice(-CHECKSUM_CHARS);
}

/**
 * The stored form of a key: its SHA-256 digest (hex). Keys hold 256 random bits, so a fast hash is enough. The
 * one-shot `crypto.hash` costs about a third of `createHash` on a 53-byte input (this runs on every verification).
 *
 * @example
 * const digest = apiKeyDigest(key);
 */
export function apiKeyDigest(key: string): string {
  return hash('sha256', key, 'hex');
}

/**
 * True when `key` has the API key prefix and length, without checking the alphabet or the checksum: enough before an
 * in-memory lookup by digest, since only stored keys' digests can match (anything else hashes to no entry).
 *
 * @example
 * if (hasApiKeyShape(presented)) entry = byDigest.get(apiKeyDigest(presented));
 */
export function hasApiKeyShape(key: string): boolean {
  return typeof key === 'string' && key.length === API_KEY_LENGTH && key.startsWith(API_KEY_PREFIX);
}
