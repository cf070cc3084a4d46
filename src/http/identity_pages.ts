import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isGatehouseError } from '../core/index.js';
import { IDENTITY_PATHS, sessionIdFromCookie } from '../identity/index.js';
import { registerAccountPages } from './account_pages.js';
import { ACCOUNT_PATH, render, type IdentityPageContext, type IdentityPagesOptions } from './identity_page_context.js';
import { SIGN_IN_CSS, SIGN_IN_CSS_PATH, messageView } from './identity_pages_views.js';
import { registerLogoutPages } from './logout_pages.js';
import { field, page, serverFailurePage } from './page_response.js';

export type { IdentityPagesOptions } from './identity_page_context.js';

/**
 * The people-facing pages of the identity issuer (server-rendered, no script, strict CSP, `__Host-` session cookie):
 * GET /oauth2/authorize, POST /oauth2/authorize/login ("Sign in"), POST /oauth2/authorize/consent ("Allow"/"Deny"),
 * GET /oauth2/login, GET+POST /oauth2/logout, GET /oauth2/account with POST /oauth2/account/revoke, and the stylesheet.
 * No CORS on any of them. Malformed input is an error page, never a 500. With `endSession`, /oauth2/logout is also the
 * OpenID Connect end_session_endpoint: a valid `id_token_hint` of the signed-in person signs out at once; otherwise the
 * person confirms ("Sign out", CSRF-protected); then back to the registered `post_logout_redirect_uri` with `state`.
 *
 * @example
 * registerIdentityPages(server.app, { flow, sessions, apps, clients, logger, maxBodyBytes: 8192 });
 */
export function registerIdentityPages(app: FastifyInstance, options: IdentityPagesOptions): void {
  const { flow, logger } = options;
  const sid = (request: FastifyRequest) => sessionIdFromCookie(request.headers.cookie);
  const address = (request: FastifyRequest) => request.socket.remoteAddress ?? 'unknown';
  const failed = (reply: FastifyReply, err: unknown) => {
    if (isGatehouseError(err) && err.status < 500)
      return render(reply, { kind: 'error', error: err }, 'GET', options.sessions);
    return serverFailurePage(reply, err, logger, 'sign-in page failed');
  };
  const context: IdentityPageContext = { options, sid, address, failed };

  app.get(SIGN_IN_CSS_PATH, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=3600').type('text/css; charset=utf-8').send(SIGN_IN_CSS),
  );

  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: options.maxBodyBytes },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    scope.setErrorHandler((err, _request, reply) => {
      const status = (err as { statusCode?: number }).statusCode ?? 500;
      if (status >= 500) return failed(reply, err);
      return page(reply, 400, messageView('Something went wrong', 'The form could not be read.', 'alert'));
    });

    scope.get(IDENTITY_PATHS.authorization, async (request, reply) => {
      const raw = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
      try {
        return render(reply, await flow.start(raw, sid(request), address(request)), 'GET', options.sessions);
      } catch (err) {
        return failed(reply, err);
      }
    });
    scope.post(`${IDENTITY_PATHS.authorization}/login`, async (request, reply) => {
      const body = request.body;
      try {
        const outcome = await flow.signIn(
          {
            query: field(body, 'query') ?? '',
            username: field(body, 'username'),
            password: field(body, 'password'),
            csrf: field(body, 'csrf'),
          },
          sid(request),
          address(request),
        );
        return render(reply, outcome, 'POST', options.sessions);
      } catch (err) {
        return failed(reply, err);
      }
    });
    scope.post(`${IDENTITY_PATHS.authorization}/consent`, async (request, reply) => {
      const body = request.body;
      try {
        const outcome = await flow.consent(
          {
            query: field(body, 'query') ?? '',
            csrf: field(body, 'csrf'),
            decision: field(body, 'decision'),
            remember: field(body, 'remember') === 'yes',
          },
          sid(request),
          address(request),
        );
        return render(reply, outcome, 'POST', options.sessions);
      } catch (err) {
        return failed(reply, err);
      }
    });
    // the form targets, typed into the address bar or restored without their form: somewhere useful, not a 404
    for (const path of [
      `${IDENTITY_PATHS.authorization}/login`,
      `${IDENTITY_PATHS.authorization}/consent`,
      `${ACCOUNT_PATH}/revoke`,
    ]) {
      scope.get(path, async (_request, reply) =>
        reply.code(302).header('cache-control', 'no-store').header('location', '/oauth2/login').send(),
      );
    }
    scope.get('/oauth2/login', async (request, reply) => {
      try {
        return render(reply, await flow.loginPage(sid(request), address(request)), 'GET', options.sessions);
      } catch (err) {
        return failed(reply, err);
      }
    });
    registerLogoutPages(scope, context);
    registerAccountPages(scope, context);
  });
}
