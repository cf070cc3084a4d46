import type { FastifyInstance } from 'fastify';

/**
 * Prepares a fastify scope for OAuth protocol endpoints: bodies arrive as raw strings of at most `maxBodyBytes` (the
 * endpoints parse their forms themselves), and framework-level failures (body too large, malformed request) are
 * answered as OAuth JSON errors with `Cache-Control: no-store` — `invalid_request`, never a 500 with a stack trace.
 *
 * @example
 * void app.register(async (scope) => {
 *   oauthFormScope(scope, 8192);
 *   scope.post('/oauth2/introspect', handler);
 * });
 */
export function oauthFormScope(scope: FastifyInstance, maxBodyBytes: number): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: maxBodyBytes }, (_request, body, done) =>
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
}
