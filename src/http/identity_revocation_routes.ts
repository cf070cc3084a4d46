import type { FastifyInstance } from 'fastify';
import {
  IDENTITY_PATHS,
  type IntrospectionEndpoint,
  type RevocationEndpoint,
  type RevocationFeedEndpoint,
} from '../identity/index.js';
import { oauthFormScope } from './oauth_form_scope.js';

/** What the introspection, revocation and feed routes need; app/identity_server.ts builds them. */
export interface IdentityRevocationRoutesOptions {
  introspection: IntrospectionEndpoint;
  revocation: RevocationEndpoint;
  feed: RevocationFeedEndpoint;
  maxBodyBytes: number;
}

/**
 * The identity issuer's RFC 7662 introspection (`POST /oauth2/introspect`), RFC 7009 revocation
 * (`POST /oauth2/revoke`) and the revocation feed (`GET /revocations?since=<cursor>`). Form bodies are read raw and
 * bounded by `maxBodyBytes`; framework-level failures are answered as OAuth `invalid_request`, never a 500.
 *
 * @example
 * registerIdentityRevocationRoutes(server.app, { introspection, revocation, feed, maxBodyBytes: 8192 });
 */
export function registerIdentityRevocationRoutes(app: FastifyInstance, options: IdentityRevocationRoutesOptions): void {
  void app.register(async (scope) => {
    oauthFormScope(scope, options.maxBodyBytes);
    for (const [path, endpoint] of [
      [IDENTITY_PATHS.introspection, options.introspection],
      [IDENTITY_PATHS.revocation, options.revocation],
    ] as const) {
      scope.post(path, async (request, reply) => {
        const response = await endpoint.handle({
          contentType: request.headers['content-type'],
          body: typeof request.body === 'string' ? request.body : '',
          authorization: request.headers.authorization,
          address: request.socket.remoteAddress ?? 'unknown',
          ...(typeof request.headers.origin === 'string' ? { origin: request.headers.origin } : {}),
        });
        return reply.code(response.status).headers(response.headers).send(response.body);
      });
    }
    scope.get(IDENTITY_PATHS.revocationFeed, async (request, reply) => {
      const response = await options.feed.handle({
        authorization: request.headers.authorization,
        since: (request.query as Record<string, unknown>)['since'],
        address: request.socket.remoteAddress ?? 'unknown',
      });
      return reply.code(response.status).headers(response.headers).send(response.body);
    });
  });
}
