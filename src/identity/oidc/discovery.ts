import { ID_TOKEN_ALGS } from './id_token.js';
import { OIDC_CLAIMS, OIDC_SCOPES } from './scopes.js';

/** Paths of the OpenID Connect endpoints, relative to the issuer URL. */
export const OIDC_PATHS = {
  userinfo: '/userinfo',
  /** RP-initiated logout: the existing sign-out page. */
  endSession: '/oauth2/logout',
} as const;

/**
 * OpenID Connect Discovery 1.0 fields on top of the RFC 8414 document: `userinfo_endpoint`, `end_session_endpoint`,
 * `id_token_signing_alg_values_supported` (RS256, which Discovery requires, and ES256), `subject_types_supported`
 * (public), `claims_supported`, and `scopes_supported` with the OpenID Connect scopes (and offline_access) added.
 *
 * @example
 * const doc = withOpenIdConfiguration(authorizationServerMetadata({ issuer, grantTypes, signingAlgs }), issuer);
 */
export function withOpenIdConfiguration(metadata: Record<string, unknown>, issuer: string): Record<string, unknown> {
  const scopes = Array.isArray(metadata.scopes_supported) ? (metadata.scopes_supported as string[]) : [];
  return {
    ...metadata,
    userinfo_endpoint: `${issuer}${OIDC_PATHS.userinfo}`,
    end_session_endpoint: `${issuer}${OIDC_PATHS.endSession}`,
    scopes_supported: [...new Set([...OIDC_SCOPES, 'offline_access', ...scopes])],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [...ID_TOKEN_ALGS],
    claims_supported: [...OIDC_CLAIMS],
  };
}
