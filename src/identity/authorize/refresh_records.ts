import { sha256Base64url } from '../../crypto/index.js';

/** Refresh token families by id: {@link RefreshFamily}, to the family's absolute expiry. */
export const REFRESH_FAMILIES_COLLECTION = 'identity_refresh_families';
/** Refresh tokens by `familyId:digest` (see {@link refreshTokenKey}): {@link StoredRefreshToken}. */
export const REFRESH_TOKENS_COLLECTION = 'identity_refresh_tokens';
/** Revoked families by id. */
export const REFRESH_REVOKED_COLLECTION = 'identity_refresh_revoked';
export { REFRESH_BY_USER_COLLECTION } from './refresh_family_index.js';

/** One grant: what every refresh token of the family is bound to (scopes, audience, client, user). Immutable. */
export interface RefreshFamily {
  familyId: string;
  clientId: string;
  account: string;
  username: string;
  generation: number;
  roles: string[];
  scopes: string[];
  audience: string;
  authTime: number;
  createdAt: number;
  absoluteExpiresAt: number;
}

/** An access token issued under a family (revoked with it). */
export interface IssuedAccess {
  jti: string;
  /** Epoch seconds. */
  exp: number;
}

/** A refresh token as stored (under {@link refreshTokenKey}: the store never holds the token itself). */
export interface StoredRefreshToken {
  usedAt: number | null;
  /** Key of the successor, once used. */
  successor: string | null;
  /** The successor token sealed under a key derived from THIS token (only inside a grace window). */
  sealedSuccessor: string | null;
  access: IssuedAccess[];
}

/**
 * The store key of a refresh token of family `familyId`: the family id and the token's digest.
 *
 * @example
 * await store.get<StoredRefreshToken>(REFRESH_TOKENS_COLLECTION, refreshTokenKey(familyId, token));
 */
export function refreshTokenKey(familyId: string, token: string): string {
  return `${familyId}:${sha256Base64url(token)}`;
}
