import type { FastifyInstance } from 'fastify';
import {
  IDENTITY_PATHS,
  type IntrospectionEndpoint,
  type RevocationEndpoint,
  type RevocationFeedEndpoint,
} from '../identity/index.js';

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
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: options.maxBodyBytes }, (_request, body, done) =>
      done(null, body),
    );
    scope.setErrorHandler((err, _request, reply) => {
      const status = (err as { statusCode?: number }).statusCode ?? 500;
      const description = status === 413 ? 'request body too large' : 'malformed request';
      void reply
        .code(status >= 500 ? 500 : 400)
        .header('cache-control', 'no-store')
        .type('application/json')
        .send(
          JSON.stringify(
            status >= 500 ? { error: 'server_error' } : { error: 'invalid_request', error_description: description },
          ),
        );
    });
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
