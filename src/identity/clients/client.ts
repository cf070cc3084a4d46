/**
 * Client authentication methods at the token endpoint (RFC 8414 `token_endpoint_auth_methods_supported`).
 * `tls_client_auth` (RFC 8705 §2.1.2, SAN URI variant) works only on the mTLS listener (`mtls_endpoint_aliases`).
 */
export const CLIENT_AUTH_METHODS = [
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
  'tls_client_auth',
  'none',
] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/** Grant type names, as the RFCs spell them. */
export const GRANT_TYPE_NAMES = [
  'client_credentials',
  'authorization_code',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:device_code',
  'implicit',
] as const;

/** One stored client secret: only its SHA-256 digest, and when it stops working (null: while it is the newest). */
export interface ClientSecretDigest {
  digest: string;
  createdAt: number;
  expiresAt: number | null;
}

/** A public JWK as a client registers it for private_key_jwt (RFC 7523). */
export type ClientJwk = Record<string, unknown> & { kty: string; kid?: string; alg?: string };

/** A registered OAuth client. */
export interface Client {
  clientId: string;
  name: string;
  /** Public clients have no secret and authenticate with `none`. */
  public: boolean;
  grantTypes: string[];
  /** The scopes this client may request. */
  scopes: string[];
  redirectUris: string[];
  /** Audiences (API URIs) the client may request with `resource`; the first is its default. */
  audiences: string[];
  authMethod: ClientAuthMethod;
  jwks?: { keys: ClientJwk[] };
  /** Its own access token lifetime (ms), or the server default. */
  accessTokenTtlMs?: number;
  legacyImplicit: boolean;
  /** tls_client_auth: the URI SAN (a SPIFFE ID of our trust domain) the client certificate must carry. */
  tlsClientAuthSanUri?: string;
  /** Roles of the client as a subject (client_credentials tokens carry them as `roles`). */
  roles: string[];
  /** Browser origins (single-page apps) allowed to call the token and revocation endpoints with CORS. */
  allowedOrigins?: string[];
  /** OpenID Connect `id_token_signed_response_alg`: RS256 when absent. */
  idTokenSignedResponseAlg?: 'RS256' | 'ES256';
  /** Where RP-initiated logout may send the person back to (exact match). */
  postLogoutRedirectUris?: string[];
  /** Workload SPIFFE IDs the client may hold: the CA signs them for its client_credentials access tokens. */
  spiffeIds?: string[];
  secrets: ClientSecretDigest[];
  createdAt: number;
  updatedAt: number;
}

/** What an operator supplies to register a client. */
export interface ClientRegistration {
  name: string;
  grantTypes: string[];
  scopes: string[];
  redirectUris?: string[];
  public?: boolean;
  audiences?: string[];
  authMethod?: ClientAuthMethod;
  jwks?: { keys: ClientJwk[] };
  accessTokenTtlMs?: number;
  legacyImplicit?: boolean;
  tlsClientAuthSanUri?: string;
  roles?: string[];
  allowedOrigins?: string[];
  idTokenSignedResponseAlg?: 'RS256' | 'ES256';
  postLogoutRedirectUris?: string[];
  spiffeIds?: string[];
}

/**
 * A client as the admin API shows it: everything except secret digests (their count and expiries instead).
 *
 * @example
 * const view = clientView(client); // { clientId, name, ..., secrets: [{ createdAt, expiresAt }] }
 */
export function clientView(client: Client): Omit<Client, 'secrets'> & {
  secrets: Array<{ createdAt: string; expiresAt: string | null }>;
} {
  const { secrets, ...rest } = client;
  return {
    ...rest,
    secrets: secrets.map((s) => ({
      createdAt: new Date(s.createdAt).toISOString(),
      expiresAt: s.expiresAt === null ? null : new Date(s.expiresAt).toISOString(),
    })),
  };
}
