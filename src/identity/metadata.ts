import { CLIENT_AUTH_METHODS } from './clients/client.js';

/** Paths of the identity issuer, relative to the issuer URL. */
export const IDENTITY_PATHS = {
  token: '/oauth2/token',
  jwks: '/.well-known/jwks.json',
  introspection: '/oauth2/introspect',
  revocation: '/oauth2/revoke',
  /** The authenticated revocation feed embedded verifiers poll (`?since=<cursor>`). */
  revocationFeed: '/revocations',
  authorization: '/oauth2/authorize',
  metadata: '/.well-known/oauth-authorization-server',
  openidConfiguration: '/.well-known/openid-configuration',
  /** RFC 8628 §3.1 device authorization endpoint (its `verification_uri` is `/oauth2/device`). */
  deviceAuthorization: '/oauth2/device_authorization',
} as const;

/** The algorithms of private_key_jwt client assertions (RFC 7523) every endpoint that authenticates clients accepts. */
const CLIENT_ASSERTION_ALGS = ['ES256', 'EdDSA', 'RS256'] as const;

/**
 * The RFC 8414 authorization server metadata. `grant_types_supported` is always listed (its default would claim
 * implicit); `device_authorization_endpoint` only when the device_code grant is registered; `response_types_supported`
 * never holds `token`, nor `grant_types_supported` `implicit`, unless `legacyImplicit` is on; `scopes_supported` lists
 * `scopes` (the registered APIs' scope names); PKCE S256 only; the private_key_jwt algorithms for the token, introspection and revocation endpoints (RFC 8414 §2
 * requires them wherever private_key_jwt is listed). With `mtlsBaseUrl` (the mTLS listener), RFC 8705
 * §5 `mtls_endpoint_aliases` for the token, introspection, revocation (and device authorization) endpoints,
 * `tls_client_certificate_bound_access_tokens: true` and `tls_client_auth` among the auth methods; without it,
 * tls_client_auth is not offered (it cannot work).
 *
 * @example
 * const doc = authorizationServerMetadata({ issuer, grantTypes: ['client_credentials'], signingAlgs: ['ES256'] });
 */
export function authorizationServerMetadata(options: {
  issuer: string;
  grantTypes: readonly string[];
  signingAlgs: readonly string[];
  scopes?: readonly string[];
  legacyImplicit?: boolean;
  /** Base URL of the mTLS listener (e.g. `https://127.0.0.1:8447`), when one runs. */
  mtlsBaseUrl?: string;
}): Record<string, unknown> {
  const at = (path: string) => `${options.issuer}${path}`;
  const device = options.grantTypes.includes('urn:ietf:params:oauth:grant-type:device_code');
  const mtls = options.mtlsBaseUrl;
  const methods = CLIENT_AUTH_METHODS.filter((m) => mtls !== undefined || m !== 'tls_client_auth');
  // RFC 8414 §2: each endpoint that offers private_key_jwt MUST list the assertion algorithms it accepts.
  const assertionAlgs = () => [...CLIENT_ASSERTION_ALGS];
  const aliases =
    mtls === undefined
      ? {}
      : {
          mtls_endpoint_aliases: {
            token_endpoint: `${mtls}${IDENTITY_PATHS.token}`,
            introspection_endpoint: `${mtls}${IDENTITY_PATHS.introspection}`,
            revocation_endpoint: `${mtls}${IDENTITY_PATHS.revocation}`,
            ...(device ? { device_authorization_endpoint: `${mtls}${IDENTITY_PATHS.deviceAuthorization}` } : {}),
          },
          tls_client_certificate_bound_access_tokens: true,
        };
  return {
    issuer: options.issuer,
    authorization_endpoint: at(IDENTITY_PATHS.authorization),
    token_endpoint: at(IDENTITY_PATHS.token),
    jwks_uri: at(IDENTITY_PATHS.jwks),
    introspection_endpoint: at(IDENTITY_PATHS.introspection),
    revocation_endpoint: at(IDENTITY_PATHS.revocation),
    ...(device ? { device_authorization_endpoint: at(IDENTITY_PATHS.deviceAuthorization) } : {}),
    // The implicit grant has no token endpoint grant; it is the `token` response type of the authorization endpoint.
    grant_types_supported: [...new Set([...options.grantTypes, ...(options.legacyImplicit ? ['implicit'] : [])])],
    response_types_supported: options.legacyImplicit ? ['code', 'token'] : ['code'],
    response_modes_supported: options.legacyImplicit ? ['query', 'fragment'] : ['query'],
    token_endpoint_auth_methods_supported: methods,
    token_endpoint_auth_signing_alg_values_supported: assertionAlgs(),
    introspection_endpoint_auth_methods_supported: methods.filter((m) => m !== 'none'),
    introspection_endpoint_auth_signing_alg_values_supported: assertionAlgs(),
    revocation_endpoint_auth_methods_supported: [...methods],
    revocation_endpoint_auth_signing_alg_values_supported: assertionAlgs(),
    code_challenge_methods_supported: ['S256'],
    scopes_supported: [...(options.scopes ?? [])],
    access_token_signing_alg_values_supported: [...options.signingAlgs],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [...options.signingAlgs],
    authorization_response_iss_parameter_supported: true,
    ...aliases,
  };
}
