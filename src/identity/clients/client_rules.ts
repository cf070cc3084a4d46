import { GatehouseError } from '../../core/index.js';
import type { Api } from '../apis/api.js';
import { FORBIDDEN_REDIRECT_SCHEMES } from '../authorize/redirect_uri.js';
import { checkClientSpiffeIds } from './client_spiffe_ids.js';
import { CLIENT_AUTH_METHODS, GRANT_TYPE_NAMES, type ClientAuthMethod, type ClientRegistration } from './client.js';

const invalid = (message: string) => new GatehouseError('ERR_IDENTITY_CLIENT_INVALID', { message });

/** A registration after validation: every field decided. */
export interface CheckedRegistration {
  name: string;
  public: boolean;
  grantTypes: string[];
  scopes: string[];
  redirectUris: string[];
  audiences: string[];
  authMethod: ClientAuthMethod;
  legacyImplicit: boolean;
  roles: string[];
  allowedOrigins: string[];
  idTokenSignedResponseAlg?: 'RS256' | 'ES256';
  postLogoutRedirectUris?: string[];
  spiffeIds?: string[];
  tlsClientAuthSanUri?: string;
}

function isLoopback(url: URL): boolean {
  return url.hostname === '127.0.0.1' || url.hostname === '[::1]' || url.hostname === 'localhost';
}

function checkRedirectUri(uri: string): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw invalid(`redirect URI ${JSON.stringify(uri)} is not an absolute URI`);
  }
  if (url.hash !== '' || uri.includes('#')) throw invalid('a redirect URI must not have a fragment');
  if (url.protocol === 'http:' && !isLoopback(url)) throw invalid('http redirect URIs are allowed only for loopback');
  if (FORBIDDEN_REDIRECT_SCHEMES.has(url.protocol)) {
    throw invalid(`a redirect URI must not use the ${url.protocol} scheme (it is not an app)`);
  }
}

/** A CORS origin: exactly `scheme://host[:port]`, https (or http on loopback), nothing else. */
function checkOrigin(origin: string): void {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw invalid(`allowed origin ${JSON.stringify(origin)} is not an origin`);
  }
  if (url.origin !== origin || origin === 'null') throw invalid(`allowed origin must be scheme://host[:port] exactly`);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url))) {
    throw invalid('allowed origins must be https (http only for loopback)');
  }
}

/**
 * The SAN URI of a tls_client_auth client: a SPIFFE ID of `trustDomain` (the certificates the mTLS listener admits
 * come from our CA), or any absolute URI without fragment when no trust domain is configured.
 */
function checkSanUri(uri: string, trustDomain: string | undefined): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw invalid(`tls_client_auth_san_uri ${JSON.stringify(uri)} is not an absolute URI`);
  }
  if (uri.includes('#') || url.search !== '')
    throw invalid('tls_client_auth_san_uri must not have a query or fragment');
  if (trustDomain !== undefined && !uri.startsWith(`spiffe://${trustDomain}/`)) {
    throw invalid(`tls_client_auth_san_uri must be a SPIFFE ID of the trust domain (spiffe://${trustDomain}/...)`);
  }
}

function unique(values: readonly string[], what: string): string[] {
  if (new Set(values).size !== values.length) throw invalid(`${what} lists a value twice`);
  return [...values];
}

/**
 * Checks a client registration against the rules and the API registry, and fills in defaults: confidential clients
 * default to client_secret_basic, public ones must use `none`; `implicit` needs `legacyImplicit`; every scope must be
 * defined by a registered API (by one of the client's audiences when it names them); without `audiences` the client
 * gets the APIs that define its scopes, in registry order. SPIFFE IDs (`spiffeIds`) must be workload IDs of
 * `trustDomain` and need the client_credentials grant. A `tlsClientAuthSanUri` makes tls_client_auth the default
 * method of a confidential client; tls_client_auth needs one, and no other method takes one.
 *
 * @example
 * const checked = checkRegistration(registration, await apis.list());
 */
export function checkRegistration(
  reg: ClientRegistration,
  apis: readonly Api[],
  trustDomain?: string,
): CheckedRegistration {
  if (typeof reg.name !== 'string' || reg.name.trim().length === 0 || reg.name.length > 100) {
    throw invalid('name must be 1-100 characters');
  }
  const isPublic = reg.public === true;
  const grantTypes = unique(reg.grantTypes ?? [], 'grant');
  if (grantTypes.length === 0) throw invalid('at least one --grant is required');
  for (const grant of grantTypes) {
    if (!(GRANT_TYPE_NAMES as readonly string[]).includes(grant)) throw invalid(`unknown grant type ${grant}`);
  }
  const legacyImplicit = reg.legacyImplicit === true;
  if (grantTypes.includes('implicit') && !legacyImplicit) {
    throw invalid('the implicit grant is refused unless the client is created with --legacy-implicit');
  }
  if (isPublic && grantTypes.includes('client_credentials')) {
    throw invalid('a public client cannot use client_credentials');
  }
  const sanUri = reg.tlsClientAuthSanUri;
  const authMethod =
    reg.authMethod ?? (isPublic ? 'none' : sanUri !== undefined ? 'tls_client_auth' : 'client_secret_basic');
  if (!(CLIENT_AUTH_METHODS as readonly string[]).includes(authMethod)) {
    throw invalid(`unknown auth method ${String(authMethod)}`);
  }
  if (isPublic !== (authMethod === 'none')) throw invalid('public clients, and only they, use auth method none');
  if (authMethod === 'private_key_jwt' && !(reg.jwks?.keys?.length ?? 0)) {
    throw invalid('private_key_jwt needs the client public keys (--jwks-file)');
  }
  if ((authMethod === 'tls_client_auth') !== (sanUri !== undefined)) {
    throw invalid('tls_client_auth needs --tls-client-auth-san-uri, and only tls_client_auth takes one');
  }
  if (sanUri !== undefined) checkSanUri(sanUri, trustDomain);
  const redirectUris = unique(reg.redirectUris ?? [], 'redirect URI');
  redirectUris.forEach(checkRedirectUri);
  if ((grantTypes.includes('authorization_code') || grantTypes.includes('implicit')) && redirectUris.length === 0) {
    throw invalid('authorization_code and implicit need at least one --redirect-uri');
  }
  const scopes = unique(reg.scopes ?? [], 'scope');
  const byAudience = new Map(apis.map((api) => [api.audience, api]));
  let audiences = unique(reg.audiences ?? [], 'audience');
  for (const audience of audiences) {
    if (!byAudience.has(audience)) throw invalid(`audience ${audience} is not a registered API (gatehouse api create)`);
  }
  const candidates = audiences.length > 0 ? audiences.map((a) => byAudience.get(a) as Api) : apis;
  for (const scope of scopes) {
    if (!candidates.some((api) => api.scopes.some((s) => s.name === scope))) {
      throw invalid(
        `scope ${scope} is not defined by ${audiences.length > 0 ? 'the audiences' : 'any registered API'}`,
      );
    }
  }
  if (audiences.length === 0) {
    audiences = apis.filter((api) => api.scopes.some((s) => scopes.includes(s.name))).map((api) => api.audience);
  }
  const roles = unique(reg.roles ?? [], 'role');
  const allowedOrigins = unique(reg.allowedOrigins ?? [], 'allowed origin');
  if (allowedOrigins.length > 10) throw invalid('at most 10 allowed origins');
  allowedOrigins.forEach(checkOrigin);
  const idAlg: string | undefined = reg.idTokenSignedResponseAlg;
  if (idAlg !== undefined && idAlg !== 'RS256' && idAlg !== 'ES256') {
    throw invalid('id_token_signed_response_alg must be RS256 or ES256');
  }
  const postLogoutRedirectUris = unique(reg.postLogoutRedirectUris ?? [], 'post-logout redirect URI');
  postLogoutRedirectUris.forEach(checkRedirectUri);
  const spiffeIds = checkClientSpiffeIds(reg.spiffeIds ?? [], trustDomain);
  if (spiffeIds.length > 0 && !grantTypes.includes('client_credentials')) {
    throw invalid('SPIFFE IDs need the client_credentials grant (the CA accepts client_credentials tokens)');
  }
  return {
    name: reg.name.trim(),
    public: isPublic,
    grantTypes,
    scopes,
    redirectUris,
    audiences,
    authMethod,
    legacyImplicit,
    roles,
    allowedOrigins,
    ...(idAlg === undefined ? {} : { idTokenSignedResponseAlg: idAlg }),
    ...(postLogoutRedirectUris.length === 0 ? {} : { postLogoutRedirectUris }),
    ...(spiffeIds.length === 0 ? {} : { spiffeIds }),
    ...(sanUri === undefined ? {} : { tlsClientAuthSanUri: sanUri }),
  };
}
