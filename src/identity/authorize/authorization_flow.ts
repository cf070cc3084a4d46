import { GatehouseError, isGatehouseError, type Clock, type Logger } from '../../core/index.js';
import type { ApiCatalog } from '../apis/api_catalog.js';
import type { ClientCache } from '../clients/client_cache.js';
import { OIDC_SCOPE_DESCRIPTIONS } from '../oidc/scopes.js';
import { oauthError as oauthErrorOf } from '../oauth_error.js';
import type { BrowserSession } from '../sessions/browser_session.js';
import { SessionStore } from '../sessions/session_store.js';
import { usernameKey } from '../users/user.js';
import type { UserRegistry } from '../users/user_registry.js';
import type { AuthorizationCodes } from './authorization_codes.js';
import {
  AuthorizeFailure,
  OFFLINE_ACCESS,
  validateAuthorizationRequest,
  type AuthorizationRequest,
} from './authorization_request.js';
import type { ConsentStore } from './consents.js';
import { respond } from './authorization_response.js';
import { redirectWith } from './redirect_uri.js';
import type { UserTokenIssuer } from './user_tokens.js';

/** A scope as the consent page shows it: its name and the API registry's plain words. */
export interface ScopeWords {
  name: string;
  description: string;
}

/** What the pages layer must do next. `session` (when set) is a new session cookie to send. */
export type FlowOutcome = (
  | { kind: 'redirect'; location: string }
  | {
      kind: 'login';
      query: string;
      csrf: string;
      loginHint?: string;
      error?: GatehouseError;
      clientName?: string;
      /** Origin the form's result may redirect to (for the page's CSP form-action). */
      redirectOrigin?: string;
    }
  | {
      kind: 'consent';
      query: string;
      csrf: string;
      clientName: string;
      scopes: ScopeWords[];
      username: string;
      redirectOrigin: string;
    }
  | { kind: 'signed-in'; username: string }
  | { kind: 'error'; error: GatehouseError }
) & { session?: { id: string; session: BrowserSession } };

/** The collaborators of {@link AuthorizationFlow}. */
export interface AuthorizationFlowDeps {
  clients: ClientCache;
  apis: ApiCatalog;
  users: UserRegistry;
  sessions: SessionStore;
  consents: ConsentStore;
  codes: AuthorizationCodes;
  tokens: UserTokenIssuer;
  clock: Clock;
  logger: Logger;
  issuer: () => string;
  legacyImplicit: boolean;
  implicitTtlMs: number;
}

/**
 * The authorization endpoint's decisions, free of HTTP: validate the request, then sign-in (with `prompt=login`,
 * `max_age`, `login_hint`), consent (remembered per client, API and scope; `prompt=consent` asks again), and finally the
 * redirect with `code`, `state` and `iss` (RFC 9207), or with an RFC error. `prompt=none` never shows a page: it answers
 * login_required / consent_required. Forms carry the session's CSRF token and the original query, re-validated on POST.
 *
 * @example
 * const outcome = await flow.start(rawQuery, sessionIdFromCookie(request.headers.cookie));
 */
export class AuthorizationFlow {
  constructor(private readonly deps: AuthorizationFlowDeps) {}

  /** GET /oauth2/authorize. */
  async start(rawQuery: string, sessionId: string | undefined): Promise<FlowOutcome> {
    const request = await this.validate(rawQuery);
    if (!('client' in request)) return request;
    const session = await this.deps.sessions.read(sessionId);
    return this.proceed(request, session, { freshSignIn: false, consented: false });
  }

  /** GET of the sign-in page without an authorization request. */
  async loginPage(sessionId: string | undefined): Promise<FlowOutcome> {
    const session = await this.deps.sessions.read(sessionId);
    if (session?.username) return { kind: 'signed-in', username: session.username };
    return this.loginOutcome('', session);
  }

  /** POST of the sign-in form. */
  async signIn(
    form: { query: string; username: unknown; password: unknown; csrf: unknown },
    sessionId: string | undefined,
    address: string,
  ): Promise<FlowOutcome> {
    const session = await this.deps.sessions.read(sessionId);
    if (!SessionStore.csrfMatches(session, form.csrf)) return csrfError();
    let request: AuthorizationRequest | undefined;
    if (form.query !== '') {
      const validated = await this.validate(form.query);
      if (!('client' in validated)) return validated;
      request = validated;
    }
    let user;
    try {
      user = await this.deps.users.signIn(form.username, form.password, address);
    } catch (err) {
      if ((isGatehouseError(err) && err.status < 500) || isGatehouseError(err, 'ERR_IDENTITY_PASSWORD_BUSY')) {
        this.deps.logger.info(
          { audit: true, event: 'sign_in', result: (err as GatehouseError).code, address },
          'sign-in refused',
        );
        const page = await this.loginOutcome(form.query, session, request);
        return page.kind === 'login' ? { ...page, error: err as GatehouseError } : page;
      }
      throw err;
    }
    this.deps.logger.info(
      { audit: true, event: 'sign_in', result: 'ok', username: user.username, address },
      'signed in',
    );
    const next = await this.deps.sessions.signIn(sessionId, {
      account: usernameKey(user.username),
      username: user.username,
      generation: user.generation,
    });
    if (!request) return { kind: 'signed-in', username: user.username, session: next };
    return { ...(await this.proceed(request, next.session, { freshSignIn: true, consented: false })), session: next };
  }

  /** POST of the consent form ("Allow" / "Deny"). */
  async consent(
    form: { query: string; csrf: unknown; decision: unknown; remember: boolean },
    sessionId: string | undefined,
  ): Promise<FlowOutcome> {
    const session = await this.deps.sessions.read(sessionId);
    if (!SessionStore.csrfMatches(session, form.csrf)) return csrfError();
    const request = await this.validate(form.query);
    if (!('client' in request)) return request;
    if (!session?.account) return this.loginOutcome(form.query, session, request);
    if (form.decision !== 'allow') {
      return this.redirectError(request, 'access_denied', 'the person denied the request');
    }
    if (form.remember) {
      await this.deps.consents.remember(session.account, request.client.clientId, request.audience, request.scopes);
    }
    return this.proceed(request, session, { freshSignIn: true, consented: true });
  }

  /** POST of the sign-out form. */
  async signOut(form: { csrf: unknown }, sessionId: string | undefined): Promise<{ ok: boolean }> {
    const session = await this.deps.sessions.read(sessionId);
    if (!SessionStore.csrfMatches(session, form.csrf) || sessionId === undefined) return { ok: false };
    await this.deps.sessions.end(sessionId);
    return { ok: true };
  }

  private async validate(rawQuery: string): Promise<AuthorizationRequest | FlowOutcome> {
    try {
      return await validateAuthorizationRequest(rawQuery, {
        clients: this.deps.clients,
        apis: this.deps.apis,
        legacyImplicit: this.deps.legacyImplicit,
      });
    } catch (err) {
      if (!(err instanceof AuthorizeFailure)) throw err;
      if (!err.redirect) return { kind: 'error', error: err.error };
      const { uri, state, mode } = err.redirect;
      return { kind: 'redirect', location: redirectWith(uri, this.errorParams(err.error, state), mode) };
    }
  }

  private async proceed(
    request: AuthorizationRequest,
    session: BrowserSession | undefined,
    flags: { freshSignIn: boolean; consented: boolean },
  ): Promise<FlowOutcome> {
    const now = this.deps.clock.now();
    const signedIn = session?.account != null && session.authTime !== null;
    const tooOld =
      request.maxAgeSeconds !== undefined &&
      session?.authTime != null &&
      now - session.authTime > request.maxAgeSeconds * 1000;
    const needLogin = !signedIn || (!flags.freshSignIn && (request.prompt === 'login' || tooOld));
    if (needLogin || !session?.account) {
      if (request.prompt === 'none') return this.redirectError(request, 'login_required', 'nobody is signed in');
      return this.loginOutcome(request.query, session, request);
    }
    const user = await this.deps.users.find(session.account);
    if (!user) return this.loginOutcome(request.query, undefined, request);
    const remembered = await this.deps.consents.covers(
      session.account,
      request.client.clientId,
      request.audience,
      request.scopes,
    );
    const needConsent = !flags.consented && (request.prompt === 'consent' || !remembered);
    if (needConsent) {
      if (request.prompt === 'none') return this.redirectError(request, 'consent_required', 'consent is required');
      return {
        kind: 'consent',
        query: request.query,
        csrf: session.csrf,
        clientName: request.client.name,
        scopes: await this.scopeWords(request),
        username: user.username,
        redirectOrigin: new URL(request.redirectUri).origin,
      };
    }
    const location = await respond(request, { ...user, account: session.account }, session.authTime ?? now, {
      codes: this.deps.codes,
      tokens: this.deps.tokens,
      logger: this.deps.logger,
      issuer: this.deps.issuer(),
      implicitTtlMs: this.deps.implicitTtlMs,
      now,
    });
    return { kind: 'redirect', location };
  }

  private async loginOutcome(
    query: string,
    session: BrowserSession | undefined,
    request?: AuthorizationRequest,
  ): Promise<FlowOutcome> {
    const started = session ? undefined : await this.deps.sessions.start();
    const csrf = session?.csrf ?? (started as { session: BrowserSession }).session.csrf;
    return {
      kind: 'login',
      query,
      csrf,
      ...(request?.loginHint ? { loginHint: request.loginHint } : {}),
      ...(request ? { clientName: request.client.name, redirectOrigin: new URL(request.redirectUri).origin } : {}),
      ...(started ? { session: started } : {}),
    };
  }

  private async scopeWords(request: AuthorizationRequest): Promise<ScopeWords[]> {
    const api = await this.deps.apis.get(request.audience);
    return request.scopes.map((name) => ({
      name,
      description:
        name === OFFLINE_ACCESS
          ? 'Stay connected when you are not using it (a refresh token)'
          : (OIDC_SCOPE_DESCRIPTIONS[name] ?? api?.scopes.find((s) => s.name === name)?.description ?? name),
    }));
  }

  private redirectError(
    request: AuthorizationRequest,
    error: Parameters<typeof oauthErrorOf>[0],
    message: string,
  ): FlowOutcome {
    const mode = request.responseType === 'token' ? 'fragment' : 'query';
    return {
      kind: 'redirect',
      location: redirectWith(request.redirectUri, this.errorParams(oauthErrorOf(error, message), request.state), mode),
    };
  }

  private errorParams(error: GatehouseError, state: string | undefined): Record<string, string | undefined> {
    return {
      error: error.oauthError ?? 'invalid_request',
      error_description: error.message,
      state,
      iss: this.deps.issuer(),
    };
  }
}

function csrfError(): FlowOutcome {
  return { kind: 'error', error: new GatehouseError('ERR_IDENTITY_CSRF') };
}
