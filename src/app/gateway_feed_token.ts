import type { Clock } from '../core/index.js';
import { issueAccessToken, REVOCATION_FEED_SCOPE } from '../identity/index.js';
import type { IdentityServer } from './identity_server.js';

/** The `sub` and `client_id` of the feed tokens the gateway of `gatehouse up` reads the revocation feed with. */
export const GATEWAY_FEED_SUBJECT = 'gatehouse-gateway';

/**
 * The revocation-feed credential of the gateway inside `gatehouse up`: an access token of this issuer carrying only
 * the `revocations:read` scope, signed in process with the current signing key (no client, nothing stored, never
 * printed), valid `ttlMs` (default 10 min) and replaced a minute before it expires. It only ever travels to the
 * issuer's own `/revocations` endpoint.
 *
 * @example
 * const feedCredential = inProcessFeedToken({ identity, audience: config.identity.platformAudience, clock });
 * const token = await feedCredential();
 */
export function inProcessFeedToken(o: {
  identity: Pick<IdentityServer, 'signingKeys' | 'issuer'>;
  audience: string;
  clock: Clock;
  ttlMs?: number;
}): () => Promise<string> {
  const ttlMs = o.ttlMs ?? 10 * 60_000;
  let current: { token: string; renewAt: number } | undefined;
  return async () => {
    const now = o.clock.now();
    if (current === undefined || now >= current.renewAt) {
      const issued = issueAccessToken(
        {
          issuer: o.identity.issuer(),
          subject: GATEWAY_FEED_SUBJECT,
          audience: o.audience,
          clientId: GATEWAY_FEED_SUBJECT,
          scope: REVOCATION_FEED_SCOPE,
          ttlMs,
        },
        o.identity.signingKeys.signer(),
        now,
      );
      current = { token: issued.token, renewAt: issued.expiresAt - Math.min(60_000, ttlMs / 2) };
    }
    return current.token;
  };
}
