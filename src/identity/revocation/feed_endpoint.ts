import type { Clock, Logger } from '../../core/index.js';
import type { ApiKeyRegistry } from '../api_keys/api_key_registry.js';
import { API_KEY_PREFIX } from '../api_keys/api_key_format.js';
import type { AuthThrottle, Throttled } from '../clients/auth_throttle.js';
import type { IssuedTokenCheck } from '../introspection_tokens.js';
import { NO_STORE } from './protocol_call.js';
import { isFeedCursor, type RevocationList } from './revocation_list.js';

/** The scope a credential needs to read the revocation feed. */
export const REVOCATION_FEED_SCOPE = 'revocations:read';

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,8192})$/;

function scopesOf(scope: unknown): string[] {
  return typeof scope === 'string' ? scope.split(' ') : [];
}

/**
 * The authenticated revocation feed `GET /revocations?since=<cursor>` that embedded verifiers poll:
 * `{"items":[{"jti","exp"}|{"key_id","exp"}],"cursor"}`. The caller presents `Authorization: Bearer` with an API
 * key or an access token of this issuer carrying the `revocations:read` scope. Throttled like the other protocol
 * endpoints (flood budget per address, failed credentials counted per address). API key revocations appear as
 * `jti` items naming the key id.
 *
 * @example
 * const feed = new RevocationFeedEndpoint({ revocations, tokens, apiKeys, throttle, clock, audit });
 * const response = await feed.handle({ authorization, since, address });
 */
export class RevocationFeedEndpoint {
  constructor(
    private readonly deps: {
      revocations: RevocationList;
      tokens: IssuedTokenCheck;
      apiKeys: ApiKeyRegistry;
      throttle: AuthThrottle;
      clock: Clock;
      audit: Logger;
    },
  ) {}

  async handle(request: { authorization: string | undefined; since: unknown; address: string }): Promise<{
    status: number;
    headers: Record<string, string>;
    body: string;
  }> {
    const fail = (status: number, error: string, extra: Record<string, string> = {}) => ({
      status,
      headers: { ...NO_STORE, ...extra },
      body: JSON.stringify({ error }),
    });
    try {
      await this.deps.throttle.admit(request.address, undefined);
    } catch (err) {
      const retry = (err as Partial<Throttled>).retryAfterSeconds ?? 1;
      return fail(429, 'temporarily_unavailable', { 'retry-after': String(retry) });
    }
    const match = typeof request.authorization === 'string' ? BEARER.exec(request.authorization) : null;
    const credential = match?.[1];
    if (credential === undefined || !this.allowed(credential)) {
      await this.deps.throttle.failed(request.address, undefined);
      this.deps.audit.warn(
        { event: 'client.auth_failed', endpoint: 'revocation_feed', address: request.address },
        'revocation feed credential refused',
      );
      return fail(401, 'invalid_token', { 'www-authenticate': 'Bearer realm="gatehouse", error="invalid_token"' });
    }
    const since = request.since;
    if (since !== undefined && (typeof since !== 'string' || !isFeedCursor(since))) {
      return fail(400, 'invalid_request');
    }
    const page = await this.deps.revocations.page(since);
    return { status: 200, headers: NO_STORE, body: JSON.stringify(page) };
  }

  private allowed(credential: string): boolean {
    const now = this.deps.clock.now();
    if (credential.startsWith(API_KEY_PREFIX)) {
      const key = this.deps.apiKeys.index.verify(credential);
      return (
        key !== undefined && !this.deps.revocations.isRevoked(key.id, now) && key.scopes.includes(REVOCATION_FEED_SCOPE)
      );
    }
    const claims = this.deps.tokens.claims(credential, now);
    // A certificate-bound token (`cnf`, RFC 8705) is refused: this listener never sees the certificate it needs.
    return (
      claims !== undefined &&
      claims['cnf'] === undefined &&
      !this.deps.revocations.isRevoked(claims['jti'] as string, now) &&
      scopesOf(claims['scope']).includes(REVOCATION_FEED_SCOPE)
    );
  }
}
