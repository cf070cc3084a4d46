import { GatehouseError, type Clock, type Logger, type RecordStore } from '../../core/index.js';
import type { AuthThrottle, Throttled } from '../clients/auth_throttle.js';
import type { Client } from '../clients/client.js';
import { authenticateClient, isInvalidClient, presentedCredentials } from '../clients/client_auth.js';
import type { ClientCache } from '../clients/client_cache.js';
import { invalidClientAnswer, oauthError, oauthErrorResponse, temporarilyUnavailable } from '../oauth_error.js';
import type { TokenHttpRequest, TokenHttpResponse } from '../token_endpoint.js';
import { parseTokenRequest } from '../token_request.js';

/** What the introspection and revocation endpoints share with the token endpoint. */
export interface ProtocolDeps {
  cache: ClientCache;
  store: RecordStore;
  /** The flood and failed-authentication throttle of this endpoint. */
  throttle: AuthThrottle;
  clock: Clock;
  /** The audit logger (`client.auth_failed`, `token.revoked`, ...): never a secret or a token. */
  audit: Logger;
  issuer: () => string;
  /** The endpoint's own URL (an accepted `aud` of private_key_jwt assertions, besides the issuer). */
  endpointUrl: () => string;
  maxParameters: number;
}

export const NO_STORE = { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache' };

/**
 * Parses an RFC 7009/7662 request and authenticates its client under the throttle (the flood budget first, then the
 * per-client and per-address failure budgets); a failed authentication is counted and audited. Returns the client and
 * the form parameters; `token` is required.
 *
 * @example
 * const { client, params } = await authenticatedCall(request, deps, { allowPublic: false, endpoint: 'introspection' });
 */
export async function authenticatedCall(
  request: TokenHttpRequest,
  deps: ProtocolDeps,
  options: { allowPublic: boolean; endpoint: string },
): Promise<{ client: Client; params: Map<string, string> }> {
  const { params } = parseTokenRequest(request.contentType, request.body, deps.maxParameters);
  const presented = presentedCredentials(request.authorization, params, request.certificate);
  const clientId = presented.clientId.slice(0, 128);
  await deps.throttle.admit(request.address, clientId);
  let client: Client;
  try {
    if (presented.method === 'none' && !options.allowPublic) {
      throw oauthError('invalid_client', undefined, 'public clients may not call this endpoint');
    }
    client = await authenticateClient(presented, {
      cache: deps.cache,
      store: deps.store,
      now: deps.clock.now(),
      audiences: [deps.issuer(), deps.endpointUrl()],
    });
    // A public client presenting a certificate on the mTLS listener is still public.
    if (client.public && !options.allowPublic) {
      throw oauthError('invalid_client', undefined, 'public clients may not call this endpoint');
    }
  } catch (err) {
    if (isInvalidClient(err)) {
      await deps.throttle.failed(request.address, clientId);
      deps.audit.warn(
        { event: 'client.auth_failed', endpoint: options.endpoint, clientId, address: request.address },
        'client authentication failed',
      );
    }
    throw err;
  }
  if (params.get('token') === undefined) throw oauthError('invalid_request', 'token is required');
  return { client, params };
}

/**
 * The RFC error response for a failure of these endpoints: OAuth errors with their status (invalid_client as
 * {@link invalidClientAnswer} says for `request`, throttling 429 with Retry-After); a dependency that is away (storage,
 * see {@link temporarilyUnavailable}) 503 `temporarily_unavailable`; anything else a logged 500 `server_error`.
 *
 * @example
 * return protocolErrorResponse(err, logger, request);
 */
export function protocolErrorResponse(
  err: unknown,
  logger: Logger,
  request: Pick<TokenHttpRequest, 'authorization'>,
): TokenHttpResponse {
  const unavailable = temporarilyUnavailable(err);
  if (unavailable) {
    logger.warn({ code: unavailable.code, err: (err as Error).message }, 'protocol endpoint unavailable');
    err = unavailable;
  }
  if (!(err instanceof GatehouseError) || err.oauthError === undefined) {
    logger.error({ err: (err as Error)?.message }, 'protocol endpoint failed');
    return { status: 500, headers: NO_STORE, body: JSON.stringify({ error: 'server_error' }) };
  }
  const { status: registered, body } = oauthErrorResponse(err);
  const invalidClient =
    err.oauthError === 'invalid_client' ? invalidClientAnswer(request.authorization !== undefined) : undefined;
  const status = invalidClient?.status ?? registered;
  const headers: Record<string, string> = { ...NO_STORE, ...invalidClient?.headers };
  const retry = (err as Partial<Throttled>).retryAfterSeconds;
  if (typeof retry === 'number') headers['retry-after'] = String(retry);
  return { status, headers, body: JSON.stringify(body) };
}
