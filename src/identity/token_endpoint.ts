import { GatehouseError, type Clock, type Logger, type RecordStore } from '../core/index.js';
import type { AuthThrottle, Throttled } from './clients/auth_throttle.js';
import { authenticateClient, isInvalidClient, presentedCredentials } from './clients/client_auth.js';
import type { ClientCache } from './clients/client_cache.js';
import { confirmationOf, type PresentedCertificate } from './clients/client_certificate.js';
import type { Client } from './clients/client.js';
import type { Grant } from './grants/grant.js';
import { invalidClientAnswer, oauthError, oauthErrorResponse, temporarilyUnavailable } from './oauth_error.js';
import { parseTokenRequest } from './token_request.js';

/** A token request as the HTTP layer hands it over (body already read, bounded by identity.limits.maxBodyBytes). */
export interface TokenHttpRequest {
  contentType: string | undefined;
  body: string;
  authorization: string | undefined;
  /** The peer address (throttling key). */
  address: string;
  /** The browser's `Origin` header: answered with CORS headers when the authenticated client allows it. */
  origin?: string;
  /**
   * The connection's verified client certificate (the mTLS listener only): it authenticates tls_client_auth clients
   * and binds the access tokens issued on this request (`cnf.x5t#S256`, RFC 8705 §3).
   */
  certificate?: PresentedCertificate;
}

/** What to send back: status, headers and a JSON body. */
export interface TokenHttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The CORS headers of an answer to an allowed browser origin (never `*`, never credentials: the token endpoint uses
 * no cookies).
 *
 * @example
 * corsHeaders('https://spa.example'); // { 'access-control-allow-origin': 'https://spa.example', vary: 'Origin', ... }
 */
export function corsHeaders(origin: string): Record<string, string> {
  return {
    'access-control-allow-origin': origin,
    vary: 'Origin',
    'access-control-expose-headers': 'WWW-Authenticate, Retry-After',
  };
}

const NO_STORE = { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache' };

/**
 * The token endpoint (RFC 6749 §3.2), independent of the HTTP framework: parses the form, dispatches to the registered
 * grant, authenticates the client under the throttle, and answers RFC errors (invalid_client as
 * {@link invalidClientAnswer} says, throttling with 429 and `Retry-After`). Never a 500 for bad input; never a stack
 * trace. A request that came with a client certificate (the mTLS listener) gets certificate-bound access tokens
 * (RFC 8705 §3).
 *
 * @example
 * const endpoint = new TokenEndpoint({ grants: [clientCredentialsGrant(...)], cache, store, throttle, clock, logger, issuer: () => issuer, tokenEndpointUrl: () => url, maxParameters: 32 });
 * const response = await endpoint.handle({ contentType, body, authorization, address });
 */
export class TokenEndpoint {
  private readonly grants: Map<string, Grant>;

  constructor(
    private readonly deps: {
      grants: readonly Grant[];
      cache: ClientCache;
      store: RecordStore;
      throttle: AuthThrottle;
      clock: Clock;
      logger: Logger;
      issuer: () => string;
      tokenEndpointUrl: () => string;
      maxParameters: number;
    },
  ) {
    this.grants = new Map(deps.grants.map((g) => [g.grantType, g]));
  }

  /** The grant types registered here (metadata `grant_types_supported`). */
  grantTypes(): string[] {
    return [...this.grants.keys()];
  }

  async handle(request: TokenHttpRequest): Promise<TokenHttpResponse> {
    const seen: { client?: Client } = {};
    let response: TokenHttpResponse;
    try {
      response = await this.process(request, seen);
    } catch (err) {
      response = this.errorResponse(err, request.authorization !== undefined);
    }
    const origin = request.origin;
    if (origin !== undefined && seen.client?.allowedOrigins?.includes(origin)) {
      response = { ...response, headers: { ...response.headers, ...corsHeaders(origin) } };
    }
    return response;
  }

  private async process(request: TokenHttpRequest, seen: { client?: Client }): Promise<TokenHttpResponse> {
    const { params, resources } = parseTokenRequest(request.contentType, request.body, this.deps.maxParameters);
    const grantType = params.get('grant_type');
    if (grantType === undefined) throw oauthError('invalid_request', 'grant_type is required');
    const grant = this.grants.get(grantType);
    if (!grant) throw oauthError('unsupported_grant_type');
    const presented = presentedCredentials(request.authorization, params, request.certificate);
    const clientId = presented.clientId.slice(0, 128);
    await this.deps.throttle.admit(request.address, clientId);
    const now = this.deps.clock.now();
    const issuer = this.deps.issuer();
    let client;
    try {
      client = await authenticateClient(presented, {
        cache: this.deps.cache,
        store: this.deps.store,
        now,
        audiences: [issuer, this.deps.tokenEndpointUrl()],
      });
    } catch (err) {
      if (isInvalidClient(err)) {
        await this.deps.throttle.failed(request.address, clientId);
        this.deps.logger.warn(
          { audit: true, event: 'client.auth_failed', endpoint: 'token', clientId, address: request.address },
          'client authentication failed',
        );
      }
      throw err;
    }
    seen.client = client;
    if (!client.grantTypes.includes(grantType)) throw oauthError('unauthorized_client');
    const confirmation = confirmationOf(request.certificate);
    const body = await grant.handle({
      client,
      params,
      resources,
      now,
      issuer,
      address: request.address,
      ...(confirmation === undefined ? {} : { confirmation }),
    });
    return { status: 200, headers: NO_STORE, body: JSON.stringify(body) };
  }

  private errorResponse(err: unknown, usedAuthorizationHeader: boolean): TokenHttpResponse {
    let gh: GatehouseError;
    const unavailable = temporarilyUnavailable(err);
    if (err instanceof GatehouseError && err.oauthError !== undefined) gh = err;
    else if (unavailable) {
      this.deps.logger.warn({ code: unavailable.code, err: (err as Error).message }, 'token endpoint unavailable');
      gh = unavailable;
    } else {
      this.deps.logger.error({ err: (err as Error)?.message }, 'token endpoint failed');
      return { status: 500, headers: NO_STORE, body: JSON.stringify({ error: 'server_error' }) };
    }
    const { status: registered, body } = oauthErrorResponse(gh);
    const invalidClient = gh.oauthError === 'invalid_client' ? invalidClientAnswer(usedAuthorizationHeader) : undefined;
    const status = invalidClient?.status ?? registered;
    const headers: Record<string, string> = { ...NO_STORE, ...invalidClient?.headers };
    const retry = (err as Partial<Throttled>).retryAfterSeconds;
    if (typeof retry === 'number') headers['retry-after'] = String(retry);
    return { status, headers, body: JSON.stringify(body) };
  }
}
