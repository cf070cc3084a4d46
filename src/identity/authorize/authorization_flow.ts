import { GatehouseError, isGatehouseError, type Clock, type Logger } from '../../core/index.js';
import type { ApiCatalog } from '../apis/api_catalog.js';
import type { ClientCache } from '../clients/client_cache.js';
import { IDENTITY_PATHS } from '../metadata.js';
import { oauthError as oauthErrorOf } from '../oauth_error.js';
import type { BrowserSession } from '../sessions/browser_session.js';
import { SessionStore } from '../sessions/session_store.js';
import { usernameKey } from '../users/user.js';
import type { UserRegistry } from '../users/user_registry.js';
import type { AuthorizationCodes } from './authorization_codes.js';
import { AuthorizeFailure, validateAuthorizationRequest, type AuthorizationRequest } from './authorization_request.js';
import type { ConsentStore } from './consents.js';
import { respond } from './authorization_response.js';
import { formActionSource, redirectWith } from './redirect_uri.js';
import { scopeWords, type ScopeWords } from './scope_words.js';
import type { UserTokenIssuer } from './user_tokens.js';

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
      /** CSP source of where the form's result may redirect to (the page's form-action; {@link formActionSource}). */
      formActionSource?: string;
    }
  | {
      kind: 'consent';
      query: string;
      csrf: string;
      clientName: string;
      scopes: ScopeWords[];
      username: string;
      formActionSource?: string;
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

  /** GET /oauth2/authorize, from a browser at `address`. */
  async start(rawQuery: string, sessionId: string | undefined, address: string): Promise<FlowOutcome> {
    const request = await this.validate(rawQuery);
    if (!('client' in request)) return request;
    const session = await this.deps.sessions.read(sessionId);
    return this.proceed(request, session, { freshSignIn: false, consented: false }, address);
  }

  /** GET of the sign-in page without an authorization request (signed in already: `signed-in`). */
  async loginPage(sessionId: string | undefined, address: string): Promise<FlowOutcome> {
    const session = await this.deps.sessions.read(sessionId);
    if (session?.username) return { kind: 'signed-in', username: session.username };
    return this.loginOutcome('', session, address);
  }

  /**
   * POST of the sign-in form. A form without this session's CSRF token signs nobody in: when the session is signed in
   * already (the form was sent again, as a reload of the page that answered it does), the person goes on from where
   * they are (the authorization request again, or `signed-in`); otherwise the sign-in page comes back with a fresh
   * token and says the page had expired.
   */
  async signIn(
    form: { query: string; username: unknown; password: unknown; csrf: unknown },
    sessionId: string | undefined,
    address: string,
  ): Promise<FlowOutcome> {
    const session = await this.deps.sessions.read(sessionId);
    let request: AuthorizationRequest | undefined;
    if (form.query !== '') {
      const validated = await this.validate(form.query);
      if (!('client' in validated)) return SessionStore.csrfMatches(session, form.csrf) ? validated : csrfError();
      request = validated;
    }
    if (!SessionStore.csrfMatches(session, form.csrf)) {
      if (session?.username) {
        return request ? this.again(request) : { kind: 'signed-in', username: session.username };
      }
      const page = await this.loginOutcome(form.query, session, address, request);
      return page.kind === 'login' ? { ...page, error: expiredForm() } : page;
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
        const page = await this.loginOutcome(form.query, session, address, request);
        // the username typed stays in the field (the password never comes back)
        const typed = typeof form.username === 'string' ? form.username.slice(0, 256) : '';
        return page.kind === 'login'
          ? { ...page, error: err as GatehouseError, ...(typed === '' ? {} : { loginHint: typed }) }
          : page;
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
    return {
      ...(await this.proceed(request, next.session, { freshSignIn: true, consented: false }, address)),
      session: next,
    };
  }

  /**
   * POST of the consent form ("Allow" / "Deny"). A form without this session's CSRF token decides nothing: the person
   * is sent to the authorization request again (sign-in, or the consent page with a fresh token).
   */
  async consent(
    form: { query: string; csrf: unknown; decision: unknown; remember: boolean },
    sessionId: string | undefined,
    address: string,
  ): Promise<FlowOutcome> {
    const session = await this.deps.sessions.read(sessionId);
    const request = await this.validate(form.query);
    const csrfOk = SessionStore.csrfMatches(session, form.csrf);
    if (!('client' in request)) return csrfOk ? request : csrfError();
    if (!csrfOk) return this.again(request);
    if (!session?.account) return this.loginOutcome(form.query, session, address, request);
    if (form.decision !== 'allow') {
      return this.redirectError(request, 'access_denied', 'the person denied the request');
    }
    if (form.remember) {
      await this.deps.consents.remember(session.account, request.client.clientId, request.audience, request.scopes);
    }
    return this.proceed(request, session, { freshSignIn: true, consented: true }, address);
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

  /** Back to GET /oauth2/authorize with the same request (a stale form: nothing was decided). */
  private again(request: AuthorizationRequest): FlowOutcome {
    return { kind: 'redirect', location: `${IDENTITY_PATHS.authorization}?${request.query}` };
  }

  private async proceed(
    request: AuthorizationRequest,
    session: BrowserSession | undefined,
    flags: { freshSignIn: boolean; consented: boolean },
    address: string,
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
      return this.loginOutcome(request.query, session, address, request);
    }
    const user = await this.deps.users.find(session.account);
    if (!user) return this.loginOutcome(request.query, undefined, address, request);
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
        ...this.formAction(request),
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
    address: string,
    request?: AuthorizationRequest,
  ): Promise<FlowOutcome> {
    const started = session ? undefined : await this.deps.sessions.start(address);
    const csrf = session?.csrf ?? (started as { session: BrowserSession }).session.csrf;
    return {
      kind: 'login',
      query,
      csrf,
      ...(request?.loginHint ? { loginHint: request.loginHint } : {}),
      ...(request ? { clientName: request.client.name, ...this.formAction(request) } : {}),
      ...(started ? { session: started } : {}),
    };
  }

  private formAction(request: AuthorizationRequest): { formActionSource?: string } {
    const source = formActionSource(request.redirectUri);
    return source === undefined ? {} : { formActionSource: source };
  }

  private async scopeWords(request: AuthorizationRequest): Promise<ScopeWords[]> {
    return scopeWords(request.scopes, await this.deps.apis.get(request.audience));
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

/** The sign-in page's message when its form came without the session's CSRF token (expired, or not sent by us). */
function expiredForm(): GatehouseError {
  return new GatehouseError('ERR_IDENTITY_CSRF', { message: 'This page had expired; please sign in again' });
}
