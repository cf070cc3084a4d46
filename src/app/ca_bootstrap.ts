import { GatehouseError, type Clock } from '../core/index.js';
import type { BootstrapGrant, BootstrapTokenVerifier } from '../pki/index.js';
import type { IdentityServer } from './identity_server.js';

/**
 * The CA's {@link BootstrapTokenVerifier} on our identity server, in process: the access token must verify with the
 * identity signing keys (typ at+jwt, our issuer, unexpired), not be revoked, carry `identity.platformAudience` in its
 * `aud`, and come from the client_credentials grant (its `sub` is its `client_id`, and the client still exists and
 * holds that grant). The grant lists the client's current `spiffeIds` (read through the client cache, so removing a
 * client stops enrollment within the cache TTL). Any failure is ERR_PKI_UNAUTHENTICATED (401), with no detail about
 * the token itself.
 *
 * @example
 * const bootstrap = identityBootstrapVerifier({ identity, platformAudience: config.identity.platformAudience, clock });
 * const grant = await bootstrap.verify(bearerToken); // { clientId, allowedSpiffeIds }
 */
export function identityBootstrapVerifier(deps: {
  identity: Pick<IdentityServer, 'tokens' | 'revocations' | 'clients'>;
  platformAudience: string;
  clock: Clock;
}): BootstrapTokenVerifier {
  const refuse = (detail: string) => new GatehouseError('ERR_PKI_UNAUTHENTICATED', { detail });
  return {
    async verify(accessToken: string): Promise<BootstrapGrant> {
      const { identity, clock } = deps;
      const now = clock.now();
      const claims = identity.tokens.claims(accessToken, now);
      if (claims === undefined) throw refuse('access token invalid or expired');
      if (identity.revocations.isRevoked(claims['jti'] as string, now)) throw refuse('access token revoked');
      // RFC 8705 §3: enrollment does not see the caller's certificate, so a certificate-bound token cannot be checked.
      if (claims['cnf'] !== undefined) throw refuse('certificate-bound access token');
      const aud = claims['aud'];
      const audiences = Array.isArray(aud) ? aud : [aud];
      if (!audiences.includes(deps.platformAudience)) throw refuse('access token not for the platform audience');
      const clientId = claims['client_id'];
      if (typeof clientId !== 'string' || claims['sub'] !== clientId) {
        throw refuse('access token not from the client_credentials grant');
      }
      const client = await identity.clients.cache.get(clientId);
      if (client === undefined || !client.grantTypes.includes('client_credentials')) {
        throw refuse('access token of an unknown client');
      }
      return { clientId, allowedSpiffeIds: [...(client.spiffeIds ?? [])] };
    },
  };
}
