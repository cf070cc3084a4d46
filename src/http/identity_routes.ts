import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  IDENTITY_PATHS,
  OIDC_PATHS,
  preflightHeaders,
  type TokenEndpoint,
  type UserinfoEndpoint,
} from '../identity/index.js';
import { oauthFormScope } from './oauth_form_scope.js';
import { serveRawFormRoutes, type FormEndpoint } from './raw_form_routes.js';

/** What the identity listener's public routes need; app/identity_server.ts supplies it. */
export interface IdentityRoutesOptions {
  token: TokenEndpoint;
  /** The RFC 8414 document (built per request once the issuer is known; API scopes from the in-memory catalog). */
  metadata: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** The JWKS as JSON text, and the seconds verifiers may cache it. */
  jwksJson: () => string;
  jwksMaxAgeSeconds: () => number;
  maxBodyBytes: number;
  /** Whether a browser origin may preflight the token and revocation endpoints (any client's `allowedOrigins`). */
  corsOrigins?: (origin: string) => Promise<boolean>;
  /** The OpenID Connect userinfo endpoint (GET and POST /userinfo, CORS per the token's client). */
  userinfo?: UserinfoEndpoint;
}

/**
 * The identity issuer's public routes: RFC 8414 metadata at both well-known paths, the JWKS, and the token endpoint
 * (a raw form body bounded by `maxBodyBytes`, handed to the framework-free {@link TokenEndpoint}). Framework-level
 * failures on the token route (oversized or unreadable body) are answered as OAuth `invalid_request`, never a 500.
 * With `userinfo`, the OpenID Connect userinfo endpoint too (GET, and POST with an optional form body).
 *
 * @example
 * registerIdentityRoutes(server.app, { token, metadata, jwksJson, jwksMaxAgeSeconds, maxBodyBytes: 8192 });
 */
export function registerIdentityRoutes(app: FastifyInstance, options: IdentityRoutesOptions): void {
  const metadata = async (_request: unknown, reply: { header: (k: string, v: string) => unknown }) => {
    reply.header('cache-control', 'public, max-age=300');
    reply.header('access-control-allow-origin', '*');
    return options.metadata();
  };
  app.get(IDENTITY_PATHS.metadata, metadata);
  app.get(IDENTITY_PATHS.openidConfiguration, metadata);
  app.get(IDENTITY_PATHS.jwks, async (_request, reply) =>
    reply
      .header('cache-control', `public, max-age=${options.jwksMaxAgeSeconds()}`)
      .header('access-control-allow-origin', '*')
      .type('application/jwk-set+json')
      .send(options.jwksJson()),
  );

  const preflight = async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin;
    const allowed =
      typeof origin === 'string' && options.corsOrigins !== undefined && (await options.corsOrigins(origin));
    return reply
      .code(204)
      .headers(allowed ? preflightHeaders(origin) : { vary: 'Origin' })
      .send();
  };
  app.options(IDENTITY_PATHS.token, preflight);
  app.options(IDENTITY_PATHS.revocation, preflight);
  const userinfo = options.userinfo;
  const userinfoRoute = async (request: FastifyRequest, reply: FastifyReply) => {
    const response = await (userinfo as UserinfoEndpoint).handle({
      method: request.method,
      authorization: request.headers.authorization,
      contentType: request.headers['content-type'],
      body: typeof request.body === 'string' ? request.body : '',
      ...(typeof request.headers.origin === 'string' ? { origin: request.headers.origin } : {}),
    });
    return reply.code(response.status).headers(response.headers).send(response.body);
  };
  if (userinfo) {
    app.options(OIDC_PATHS.userinfo, preflight);
    app.get(OIDC_PATHS.userinfo, userinfoRoute);
  }

  void app.register(async (scope) => {
    oauthFormScope(scope, options.maxBodyBytes);
    scope.post(IDENTITY_PATHS.token, async (request, reply) => {
      const authorization = request.headers.authorization;
      const contentType = request.headers['content-type'];
      const response = await options.token.handle({
        contentType,
        body: typeof request.body === 'string' ? request.body : '',
        authorization,
        address: request.socket.remoteAddress ?? 'unknown',
        ...(typeof request.headers.origin === 'string' ? { origin: request.headers.origin } : {}),
      });
      return reply.code(response.status).headers(response.headers).send(response.body);
    });
    if (userinfo) scope.post(OIDC_PATHS.userinfo, userinfoRoute);
  });
}

/**
 * Serves POST /oauth2/token, /oauth2/introspect and /oauth2/revoke from a raw node:https handler in front of fastify
 * (ADR 0001), adding the listener's HSTS (`hstsMaxAgeMs`, as createHttpsServer does) and nosniff headers. Call it once,
 * after the fastify routes are registered (they stay for `inject` in tests and for paths with a query string).
 *
 * @example
 * serveIdentityFormRoutes(server.app, { token, introspection, revocation, maxBodyBytes: 8192, hstsMaxAgeMs });
 */
export function serveIdentityFormRoutes(
  app: FastifyInstance,
  options: {
    token: FormEndpoint;
    introspection?: FormEndpoint;
    revocation?: FormEndpoint;
    maxBodyBytes: number;
    hstsMaxAgeMs: number;
  },
): void {
  const routes: Record<string, FormEndpoint> = { [IDENTITY_PATHS.token]: options.token };
  if (options.introspection) routes[IDENTITY_PATHS.introspection] = options.introspection;
  if (options.revocation) routes[IDENTITY_PATHS.revocation] = options.revocation;
  serveRawFormRoutes(app.server, {
    routes,
    maxBodyBytes: options.maxBodyBytes,
    headers: {
      'strict-transport-security': `max-age=${Math.floor(options.hstsMaxAgeMs / 1000)}; includeSubDomains`,
      'x-content-type-options': 'nosniff',
    },
  });
}
