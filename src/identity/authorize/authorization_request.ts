import type { GatehouseError } from '../../core/index.js';
import type { ApiCatalog } from '../apis/api_catalog.js';
import type { ClientCache } from '../clients/client_cache.js';
import type { Client } from '../clients/client.js';
import { parseScope } from '../grants/client_credentials.js';
import { oauthError } from '../oauth_error.js';
import { OIDC_SCOPES } from '../oidc/scopes.js';
import { isS256Challenge } from './pkce.js';
import { matchRedirectUri } from './redirect_uri.js';

/** The scope that asks for a refresh token (issued only when the client may use the refresh_token grant). */
export const OFFLINE_ACCESS = 'offline_access';

/** A validated authorization request. */
export interface AuthorizationRequest {
  client: Client;
  redirectUri: string;
  /** Whether the request named redirect_uri (then the token request must repeat it, RFC 6749 §4.1.3). */
  redirectUriGiven: boolean;
  responseType: 'code' | 'token';
  state: string | undefined;
  /** Granted API scopes plus, when asked and allowed, offline_access. */
  scopes: string[];
  audience: string;
  codeChallenge: string | undefined;
  prompt: 'none' | 'login' | 'consent' | undefined;
  maxAgeSeconds: number | undefined;
  loginHint: string | undefined;
  /** OpenID Connect `nonce`, stored with the code and echoed in the ID token. */
  nonce: string | undefined;
  /** The raw query, carried in the login/consent forms and re-validated on POST. */
  query: string;
}

/**
 * A refused authorization request. With `redirect`, the error goes back to the (registered, matched) redirect URI;
 * without, the person sees an error page and nothing is redirected (no open redirector).
 */
export class AuthorizeFailure extends Error {
  constructor(
    readonly error: GatehouseError,
    readonly redirect?: { uri: string; state: string | undefined; mode: 'query' | 'fragment' },
  ) {
    super(error.message);
  }
}

const MAX_QUERY = 8192;
const SINGLE = [
  'client_id',
  'redirect_uri',
  'response_type',
  'scope',
  'state',
  'code_challenge',
  'code_challenge_method',
  'prompt',
  'max_age',
  'login_hint',
  'resource',
  'nonce',
  'response_mode',
];

const pageError = (message: string) => new AuthorizeFailure(oauthError('invalid_request', message));

/**
 * Validates an authorization request (RFC 6749 §4.1.1, RFC 7636, RFC 9700): first the client and its redirect URI
 * (failures: error page, never a redirect), then everything else (failures: the RFC error at the redirect URI with
 * `state` and `iss`). A parameter without a value counts as omitted (RFC 6749 §3.1). PKCE S256 is required of every client; `plain` is refused. `response_type=token` only when the
 * server and the client both opted in to the legacy implicit flow, else unsupported_response_type.
 *
 * @example
 * const request = await validateAuthorizationRequest(rawQuery, { clients: cache, apis: catalog, legacyImplicit: false });
 */
export async function validateAuthorizationRequest(
  rawQuery: string,
  deps: { clients: ClientCache; apis: ApiCatalog; legacyImplicit: boolean },
): Promise<AuthorizationRequest> {
  if (rawQuery.length > MAX_QUERY) throw pageError('the request is too large');
  // RFC 6749 §3.1: a parameter sent without a value is treated as if it were omitted (`scope=&state=`).
  const query = new URLSearchParams([...new URLSearchParams(rawQuery)].filter(([, value]) => value !== ''));
  const repeated = SINGLE.filter((name) => query.getAll(name).length > 1);
  const clientId = query.get('client_id');
  if (!clientId || clientId.length > 128 || query.getAll('client_id').length > 1) {
    throw pageError('client_id is missing or invalid');
  }
  const client = await deps.clients.get(clientId);
  if (!client) throw pageError('unknown client');
  const requestedUri = query.get('redirect_uri');
  let redirectUri: string | undefined;
  if (query.getAll('redirect_uri').length > 1) throw pageError('redirect_uri is repeated');
  if (requestedUri === null) {
    redirectUri = client.redirectUris.length === 1 ? client.redirectUris[0] : undefined;
    if (redirectUri === undefined) throw pageError('redirect_uri is required for this client');
  } else {
    redirectUri = matchRedirectUri(client.redirectUris, requestedUri);
    if (redirectUri === undefined) throw pageError('redirect_uri is not registered for this client');
  }
  const state = query.get('state') ?? undefined;
  const rawType = query.get('response_type');
  // Errors go in the query, except once the legacy implicit response type is accepted (RFC 6749 §4.2.2.1: fragment).
  let mode: 'query' | 'fragment' = 'query';
  const fail = (error: Parameters<typeof oauthError>[0], message: string) =>
    new AuthorizeFailure(oauthError(error, message), { uri: redirectUri, state: state?.slice(0, 2048), mode });
  if (repeated.length > 0) throw fail('invalid_request', `parameter ${repeated[0]} is repeated`);
  if (state !== undefined && state.length > 2048) throw fail('invalid_request', 'state is too long');
  if (rawType === null) throw fail('invalid_request', 'response_type is required');
  let responseType: 'code' | 'token';
  if (rawType === 'code') {
    if (!client.grantTypes.includes('authorization_code')) {
      throw fail('unauthorized_client', 'the client may not use the authorization code grant');
    }
    responseType = 'code';
  } else if (
    rawType === 'token' &&
    deps.legacyImplicit &&
    client.legacyImplicit &&
    client.grantTypes.includes('implicit')
  ) {
    responseType = 'token';
    mode = 'fragment';
  } else {
    throw fail('unsupported_response_type', 'only response_type=code is supported');
  }
  const responseMode = query.get('response_mode');
  if (responseMode !== null && responseMode !== (responseType === 'code' ? 'query' : 'fragment')) {
    throw fail('invalid_request', 'unsupported response_mode');
  }
  let codeChallenge: string | undefined;
  if (responseType === 'code') {
    const challenge = query.get('code_challenge');
    const method = query.get('code_challenge_method');
    if (challenge === null) throw fail('invalid_request', 'code_challenge is required (PKCE with S256)');
    if (method !== 'S256') throw fail('invalid_request', 'code_challenge_method must be S256');
    if (!isS256Challenge(challenge)) throw fail('invalid_request', 'code_challenge is malformed');
    codeChallenge = challenge;
  }
  const resources = query.getAll('resource');
  if (resources.length > 1) throw fail('invalid_target', 'one resource per request');
  const resource = resources[0];
  const audience = resource ?? client.audiences[0];
  if (audience === undefined) throw fail('invalid_target', 'the client has no default audience');
  if (!client.audiences.includes(audience)) throw fail('invalid_target', 'resource not allowed for this client');
  const api = await deps.apis.get(audience);
  if (!api) throw fail('invalid_target', 'resource is not a registered API');
  const rawScope = query.get('scope');
  let scopes: string[];
  try {
    scopes =
      rawScope === null ? client.scopes.filter((s) => api.scopes.some((d) => d.name === s)) : parseScope(rawScope);
  } catch {
    throw fail('invalid_scope', 'malformed scope');
  }
  for (const scope of scopes) {
    const offline = scope === OFFLINE_ACCESS && client.grantTypes.includes('refresh_token') && responseType === 'code';
    const oidc = OIDC_SCOPES.includes(scope) && responseType === 'code';
    if (!offline && !oidc && (!client.scopes.includes(scope) || !api.scopes.some((d) => d.name === scope))) {
      throw fail('invalid_scope', 'a requested scope is not granted to this client for this resource');
    }
  }
  const prompts = (query.get('prompt') ?? '').split(' ').filter((p) => p !== '');
  if (prompts.some((p) => !['none', 'login', 'consent'].includes(p)) || prompts.length > 1) {
    throw fail('invalid_request', 'prompt must be one of none, login, consent');
  }
  const maxAge = query.get('max_age');
  if (maxAge !== null && !/^\d{1,9}$/.test(maxAge)) throw fail('invalid_request', 'max_age must be whole seconds');
  const loginHint = query.get('login_hint') ?? undefined;
  if (loginHint !== undefined && loginHint.length > 256) throw fail('invalid_request', 'login_hint is too long');
  const nonce = query.get('nonce') ?? undefined;
  if (nonce !== undefined && nonce.length > 512) throw fail('invalid_request', 'nonce is too long');
  return {
    client,
    redirectUri,
    redirectUriGiven: requestedUri !== null,
    responseType,
    state,
    scopes,
    audience,
    codeChallenge,
    prompt: prompts[0] as AuthorizationRequest['prompt'],
    maxAgeSeconds: maxAge === null ? undefined : Number(maxAge),
    loginHint,
    nonce,
    query: rawQuery,
  };
}

/** Re-exported for the pages: the API scopes (not offline_access) of a request. */
export function apiScopesOf(request: AuthorizationRequest): string[] {
  return request.scopes.filter((s) => s !== OFFLINE_ACCESS);
}
