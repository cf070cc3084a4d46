import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../core/index.js';
import type { SessionStore } from '../identity/index.js';
import {
  sessionCookie,
  type AuthorizationFlow,
  type ClientCache,
  type Api,
  type ConnectedApps,
  type EndSession,
  type FlowOutcome,
} from '../identity/index.js';
import { consentView, loginView, messageView } from './identity_pages_views.js';
import { page } from './page_response.js';

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

/** The account page: who is signed in, the apps they allowed ("Revoke"), sign out. */
export const ACCOUNT_PATH = '/oauth2/account';

/**
 * Answers a flow's outcome: a redirect (302 after a GET, 303 after a form), the sign-in or consent page, the account
 * page after a sign-in without an app, or an error page; sets the session cookie the outcome carries.
 *
 * @example
 * return render(reply, await flow.start(query, sid, address), 'GET', sessions);
 */
export function render(
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

/** What each group of identity pages gets from {@link registerIdentityPages}: the options and the per-request helpers. */
export interface IdentityPageContext {
  options: IdentityPagesOptions;
  /** The session id of the request's cookie. */
  sid(request: FastifyRequest): string | undefined;
  /** The client address (sign-in throttling). */
  address(request: FastifyRequest): string;
  /** An error page: the person's own mistakes (4xx) as the flow words them, anything else 500/503. */
  failed(reply: FastifyReply, err: unknown): FastifyReply;
}

/** The fastify scope the form pages are registered in (form bodies parsed, errors as pages). */
export type PageScope = FastifyInstance;
