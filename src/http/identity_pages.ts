import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatehouseError, isGatehouseError, type Logger } from '../core/index.js';
import {
  FORBIDDEN_REDIRECT_SCHEMES,
  IDENTITY_PATHS,
  SessionStore,
  sessionCookie,
  sessionIdFromCookie,
  type AuthorizationFlow,
  type ClientCache,
  type Api,
  type ConnectedApps,
  type EndSession,
  type EndSessionRequest,
  type FlowOutcome,
  formActionSource,
  scopeWords,
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
  /** The account page's apps (remembered consents and refresh tokens; "Revoke" ends both). */
  apps: ConnectedApps;
  /** The registered APIs, so that the account page shows scopes in the words the consent page used (names without). */
  apis?: { get(audience: string): Api | undefined | Promise<Api | undefined> };
  clients: ClientCache;
  logger: Logger;
  maxBodyBytes: number;
  /** OpenID Connect RP-initiated logout on /oauth2/logout (id_token_hint, post_logout_redirect_uri, state). */
  endSession?: EndSession;
}

/** A CSP source naming where a form's answer may redirect: an http(s) origin or a native app's scheme (`com.example.app:`). */
const FORM_TARGET = /^(?:https?:\/\/[^\s;,'/]+|[a-z][a-z0-9+.-]*:)$/;

/**
 * The strict Content-Security-Policy of every page: nothing but our own stylesheet; forms post only to us (and, when
 * the form's answer redirects to a client, to that client's origin, or to its scheme for a native app's private-use
 * redirect URI: browsers apply form-action to redirects, so without it "Allow" would do nothing).
 *
 * @example
 * reply.header('content-security-policy', pageCsp('https://app.example'));
 */
export function pageCsp(formTarget?: string): string {
  const allowed =
    formTarget !== undefined && FORM_TARGET.test(formTarget) && !FORBIDDEN_REDIRECT_SCHEMES.has(formTarget);
  const targets = ["'self'", ...(allowed ? [formTarget] : [])];
  return [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self'",
    `form-action ${targets.join(' ')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/**
 * The page for a failure that is not the person's: 503 "Temporarily unavailable" (logged as a warning) when what the
 * page needs is away (storage unreachable, a root key not adopted yet: a GatehouseError registered with 503), so the
 * person knows a retry may work; anything else 500 "Something went wrong", logged as an error with `what`.
 *
 * @example
 * return serverFailurePage(reply, err, logger, 'sign-in page failed');
 */
export function serverFailurePage(reply: FastifyReply, err: unknown, logger: Logger, what: string): FastifyReply {
  if (isGatehouseError(err) && err.status === 503) {
    logger.warn({ code: err.code, err: err.message }, what);
    return page(reply, 503, messageView('Temporarily unavailable', 'Please try again in a moment.', 'alert'));
  }
  logger.error({ err: (err as Error)?.message }, what);
  return page(reply, 500, messageView('Something went wrong', 'Please try again later.', 'alert'));
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

/** The account page: who is signed in, the apps they allowed ("Revoke"), sign out. */
const ACCOUNT_PATH = '/oauth2/account';

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
        outcome.formActionSource,
      );
    }
    case 'consent':
      return page(reply, 200, consentView(outcome), outcome.formActionSource);
    case 'signed-in':
      // a sign-in without an app ends on the account page (who you are, your apps, sign out), as a GET
      return reply
        .code(method === 'GET' ? 302 : 303)
        .header('cache-control', 'no-store')
        .header('location', ACCOUNT_PATH)
        .send();
    case 'error': {
      const retry = (outcome.error as { retryAfterSeconds?: number }).retryAfterSeconds;
      if (typeof retry === 'number') reply.header('retry-after', String(retry));
      return page(reply, outcome.error.status, messageView('Something went wrong', outcome.error.message, 'alert'));
    }
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
        ending.redirect === undefined ? undefined : formActionSource(ending.redirect),
      );
    });
    scope.post('/oauth2/logout', async (request, reply) => {
      let ending: EndSessionRequest;
      try {
        ending = await endSession(field(request.body, 'query') ?? '');
      } catch (err) {
        return failed(reply, err);
      }
      // nobody signed in (the session ended meanwhile, or in another tab): that is what signing out wanted
      const current = await options.sessions.read(sid(request));
      if (!current?.username) {
        reply.header('set-cookie', sessionCookie('', 0));
        return signedOut(reply, ending, 'You are signed out.');
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
    scope.get(ACCOUNT_PATH, async (request, reply) => {
      try {
        const session = await options.sessions.read(sid(request));
        if (!session?.account || !session.username)
          return render(reply, await flow.loginPage(sid(request), address(request)), 'GET', options.sessions);
        const apps = await options.apps.list(session.account);
        // the scopes in plain words, as the consent page showed them (offline_access is said apart)
        const described = async (list: Array<{ audience: string; scopes: string[] }>) =>
          Promise.all(
            list.map(async ({ audience, scopes }) => {
              const kept = scopes.filter((scope) => scope !== 'offline_access');
              const api = options.apis ? await options.apis.get(audience) : undefined;
              return { audience, scopes: options.apis ? scopeWords(kept, api).map((w) => w.description) : kept };
            }),
          );
        const named = await Promise.all(
          apps.map(async (app) => ({
            ...app,
            allowed: await described(app.allowed),
            connected: await described(app.connected),
            clientName: (await options.clients.get(app.clientId))?.name ?? app.clientId,
          })),
        );
        return page(
          reply,
          200,
          accountView({
            csrf: session.csrf,
            username: session.username,
            apps: named,
            unusedLimitMs: options.apps.unusedLimitMs,
          }),
        );
      } catch (err) {
        return failed(reply, err);
      }
    });
    scope.post(`${ACCOUNT_PATH}/revoke`, async (request, reply) => {
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
      if (clientId) {
        await options.apps.revoke(session.account, clientId);
        logger.info(
          { audit: true, event: 'app_revoked', username: session.username, clientId },
          'the person revoked an app on the account page',
        );
      }
      return reply.code(303).header('cache-control', 'no-store').header('location', ACCOUNT_PATH).send();
    });
  });
}
