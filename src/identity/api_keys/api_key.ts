import { GatehouseError } from '../../core/index.js';
import { SCOPE_NAME } from '../apis/api.js';

/** The furthest expiry a key may be given (beyond it dates stop being dates; no expiry at all stays possible). */
const MAX_EXPIRES_IN_MS = 3650 * 86_400_000;
/** One stored digest of a key: the newest has no end; a rotated one works until `expiresAt` (the overlap). */
export interface ApiKeyDigest {
  digest: string;
  createdAt: number;
  expiresAt: number | null;
}

/** An API key as stored: never the key itself, only SHA-256 digests. */
export interface ApiKey {
  /** `ak_…`: the public id (listed, revoked and audited by it). */
  id: string;
  name: string;
  scopes: string[];
  /** Who the key belongs to (free text, or a client_id that may introspect and revoke it). */
  owner: string | null;
  /** Audiences (API URIs) the key is meant for; empty: any resource server of this issuer. */
  audiences: string[];
  digests: ApiKeyDigest[];
  createdAt: number;
  /** Expiry (ms), or null for a key that does not expire. */
  expiresAt: number | null;
  revokedAt: number | null;
}

/** What an operator supplies to create a key. */
export interface ApiKeyRequest {
  name: string;
  scopes: readonly string[];
  owner?: string;
  audiences?: readonly string[];
  /** Lifetime in ms (none: the key does not expire). */
  expiresInMs?: number;
}

/**
 * Validates a key request: a name of 1-100 characters, at most 100 RFC 6749 scope tokens, an owner of at most 128
 * characters, a positive lifetime. Throws ERR_IDENTITY_API_KEY_INVALID naming the problem.
 *
 * @example
 * checkApiKeyRequest({ name: 'demo', scopes: ['demo'] });
 */
export function checkApiKeyRequest(request: ApiKeyRequest): void {
  const bad = (message: string) => new GatehouseError('ERR_IDENTITY_API_KEY_INVALID', { message });
  if (typeof request.name !== 'string' || request.name.length < 1 || request.name.length > 100) {
    throw bad('name must be 1-100 characters');
  }
  if (request.scopes.length > 100) throw bad('at most 100 scopes');
  for (const scope of request.scopes) {
    if (!SCOPE_NAME.test(scope)) throw bad(`invalid scope ${JSON.stringify(scope.slice(0, 130))}`);
  }
  if (request.owner !== undefined && (request.owner.length < 1 || request.owner.length > 128)) {
    throw bad('owner must be 1-128 characters');
  }
  if ((request.audiences ?? []).length > 20) throw bad('at most 20 audiences');
  if (request.expiresInMs !== undefined && !(Number.isInteger(request.expiresInMs) && request.expiresInMs > 0)) {
    throw bad('expiry must be in the future');
  }
  if (request.expiresInMs !== undefined && request.expiresInMs > MAX_EXPIRES_IN_MS) {
    throw bad('expiry at most 3650d away (leave it out for a key that does not expire)');
  }
}

/**
 * Whether a key is usable at `now` through the given digest: not revoked, not expired, digest within its overlap.
 *
 * @example
 * if (isApiKeyUsable(key, digestEntry, clock.now())) admit();
 */
export function isApiKeyUsable(key: ApiKey, digest: ApiKeyDigest, now: number): boolean {
  if (key.revokedAt !== null) return false;
  if (key.expiresAt !== null && key.expiresAt <= now) return false;
  return digest.expiresAt === null || digest.expiresAt > now;
}

/**
 * A key as the admin API lists it: no digests (their count and expiries instead), times as ISO strings.
 *
 * @example
 * const view = apiKeyView(key, lastUsedAt);
 */
export function apiKeyView(key: ApiKey, lastUsedAt: number | null): Record<string, unknown> {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: key.id,
    name: key.name,
    scopes: [...key.scopes],
    owner: key.owner,
    audiences: [...key.audiences],
    createdAt: iso(key.createdAt),
    expiresAt: iso(key.expiresAt),
    revokedAt: iso(key.revokedAt),
    lastUsedAt: iso(lastUsedAt),
    versions: key.digests.map((d) => ({ createdAt: iso(d.createdAt), expiresAt: iso(d.expiresAt) })),
  };
}
