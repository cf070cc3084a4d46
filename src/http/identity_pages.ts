import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatehouseError, isGatehouseError, type Logger } from '../core/index.js';
import {
  IDENTITY_PATHS,
  SessionStore,
  sessionCookie,
  sessionIdFromCookie,
  type AuthorizationFlow,
  type ClientCache,
  type ConsentStore,
  type EndSession,
  type EndSessionRequest,
  type FlowOutcome,
} from '../identity/index.js';
import {
  SIGN_IN_CSS,
  SIGN_IN_CSS_PATH,
  accountView,
  consentView,
  logoutView,
  loginView,
  messageView,
} from './identity_pages_views.js';

/** What the sign-in pages need; app/identity_server.ts supplies it. */
export interface IdentityPagesOptions {
  flow: AuthorizationFlow;
  sessions: SessionStore;
  consents: ConsentStore;
  clients: ClientCache;
  logger: Logger;
  maxBodyBytes: number;
  /** OpenID Connect RP-initiated logout on /oauth2/logout (id_token_hint, post_logout_redirect_uri, state). */
  endSession?: EndSession;
}

/**
 * The strict Content-Security-Policy of every page: nothing but our own stylesheet; forms post only to us (and, when
 * the form's answer redirects to a client, to that client's origin: browsers apply form-action to redirects).
 *
 * @example
 * reply.header('content-security-policy', pageCsp('https://app.example'));
 */
export function pageCsp(formTarget?: string): string {
  const targets = ["'self'", ...(formTarget && /^https?:\/\/[^\s;,']+$/.test(formTarget) ? [formTarget] : [])];
  return [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self'",
    `form-action ${targets.join(' ')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** Sends a page with the headers every sign-in page carries (strict CSP, no framing, no caching). */
export function page(reply: FastifyReply, status: number, html: string, formTarget?: string): FastifyReply {
  return reply
    .code(status)
    .header('content-security-policy', pageCsp(formTarget))
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(html);
}

/** A string field of a parsed form body, or undefined. */
export const field = (body: unknown, name: string): string | undefined => {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
};

function render(
  reply: FastifyReply,
  outcome: FlowOutcome,
  method: 'GET' | 'POST',
  sessions?: SessionStore,
): FastifyReply {
  if (outcome.session && sessions) {
    reply.header(
      'set-cookie',
      sessionCookie(outcome.session.id, sessions.cookieMaxAgeSeconds(outcome.session.session)),
    );
  }
  switch (outcome.kind) {
    case 'redirect':
      return reply
        .code(method === 'GET' ? 302 : 303)
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .header('location', outcome.location)
        .send();
    case 'login': {
      const retry = (outcome.error as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
      if (typeof retry === 'number') reply.header('retry-after', String(retry));
      return page(
        reply,
        outcome.error ? outcome.error.status : 200,
        loginView({
          query: outcome.query,
          csrf: outcome.csrf,
          ...(outcome.clientName ? { clientName: outcome.clientName } : {}),
          ...(outcome.loginHint ? { loginHint: outcome.loginHint } : {}),
          ...(outcome.error ? { error: outcome.error.message } : {}),
        }),
        outcome.redirectOrigin,
      );
    }
    case 'consent':
      return page(reply, 200, consentView(outcome), outcome.redirectOrigin);
    case 'signed-in':
      return page(reply, 200, messageView('Signed in', `You are signed in as ${outcome.username}.`));
    case 'error':
      return page(reply, outcome.error.status, messageView('Something went wrong', outcome.error.message, 'alert'));
  }
}

/**
 * The people-facing pages of the identity issuer (server-rendered, no script, strict CSP, `__Host-` session cookie):
 * GET /oauth2/authorize, POST /oauth2/authorize/login ("Sign in"), POST /oauth2/authorize/consent ("Allow"/"Deny"),
 * GET /oauth2/login, GET+POST /oauth2/logout, GET /oauth2/account with POST /oauth2/account/revoke, and the stylesheet.
 * No CORS on any of them. Malformed input is an error page, never a 500. With `endSession`, /oauth2/logout is also the
 * OpenID Connect end_session_endpoint: a valid `id_token_hint` of the signed-in person signs out at once; otherwise the
 * person confirms ("Sign out", CSRF-protected); then back to the registered `post_logout_redirect_uri` with `state`.
 *
 * @example
 * registerIdentityPages(server.app, { flow, sessions, consents, clients, logger, maxBodyBytes: 8192 });
 */
export function registerIdentityPages(app: FastifyInstance, options: IdentityPagesOptions): void {
  const { flow, logger } = options;
  const sid = (request: FastifyRequest) => sessionIdFromCookie(request.headers.cookie);
  const failed = (reply: FastifyReply, err: unknown) => {
    if (isGatehouseError(err) && err.status < 500)
      return render(reply, { kind: 'error', error: err }, 'GET', options.sessions);
    logger.error({ err: (err as Error)?.message }, 'sign-in page failed');
    return page(reply, 500, messageView('Something went wrong', 'Please try again later.', 'alert'));
  };

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
        return render(reply, await flow.start(raw, sid(request)), 'GET', options.sessions);
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
          request.socket.remoteAddress ?? 'unknown',
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
        );
        return render(reply, outcome, 'POST', options.sessions);
      } catch (err) {
        return failed(reply, err);
      }
    });
    scope.get('/oauth2/login', async (request, reply) =>
      render(reply, await flow.loginPage(sid(request)), 'GET', options.sessions),
    );
    const endSession = async (raw: string): Promise<EndSessionRequest> =>
      options.endSession && raw !== ''
        ? options.endSession.validate(raw)
        : { hintSubject: undefined, redirect: undefined };
    const signedOut = (reply: FastifyReply, request: EndSessionRequest, message: string, status = 303) =>
      request.redirect === undefined
        ? page(reply, 200, messageView('Signed out', message))
        : reply
            .code(status)
            .header('cache-control', 'no-store')
            .header('referrer-policy', 'no-referrer')
            .header('location', request.redirect)
            .send();
    scope.get('/oauth2/logout', async (request, reply) => {
      const raw = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
      let ending: EndSessionRequest;
      try {
        ending = await endSession(raw);
      } catch (err) {
        return failed(reply, err);
      }
      const id = sid(request);
      const session = await options.sessions.read(id);
      if (!session?.username) return signedOut(reply, ending, 'You are not signed in.', 302);
      if (ending.hintSubject !== undefined && ending.hintSubject === session.username && id !== undefined) {
        await options.sessions.end(id);
        reply.header('set-cookie', sessionCookie('', 0));
        return signedOut(reply, ending, 'You are signed out.', 302);
      }
      return page(
        reply,
        200,
        logoutView({ csrf: session.csrf, username: session.username, ...(raw === '' ? {} : { query: raw }) }),
        ending.redirect === undefined ? undefined : new URL(ending.redirect).origin,
      );
    });
    scope.post('/oauth2/logout', async (request, reply) => {
      let ending: EndSessionRequest;
      try {
        ending = await endSession(field(request.body, 'query') ?? '');
      } catch (err) {
        return failed(reply, err);
      }
      const result = await flow.signOut({ csrf: field(request.body, 'csrf') }, sid(request));
      if (!result.ok)
        return render(
          reply,
          { kind: 'error', error: new GatehouseError('ERR_IDENTITY_CSRF') },
          'POST',
          options.sessions,
        );
      reply.header('set-cookie', sessionCookie('', 0));
      return signedOut(reply, ending, 'You are signed out.');
    });
    scope.get('/oauth2/account', async (request, reply) => {
      const session = await options.sessions.read(sid(request));
      if (!session?.account || !session.username)
        return render(reply, await flow.loginPage(sid(request)), 'GET', options.sessions);
      const consents = await options.consents.list(session.account);
      const named = await Promise.all(
        consents.map(async (c) => ({
          clientId: c.clientId,
          clientName: (await options.clients.get(c.clientId))?.name ?? c.clientId,
          apis: c.apis,
        })),
      );
      return page(reply, 200, accountView({ csrf: session.csrf, username: session.username, consents: named }));
    });
    scope.post('/oauth2/account/revoke', async (request, reply) => {
      const session = await options.sessions.read(sid(request));
      if (!SessionStore.csrfMatches(session, field(request.body, 'csrf')) || !session?.account) {
        return render(
          reply,
          { kind: 'error', error: new GatehouseError('ERR_IDENTITY_CSRF') },
          'POST',
          options.sessions,
        );
      }
      const clientId = field(request.body, 'client_id');
      if (clientId) await options.consents.revoke(session.account, clientId);
      return reply.code(303).header('location', '/oauth2/account').send();
    });
  });
}
