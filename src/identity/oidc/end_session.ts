import type { ClientCache } from '../clients/client_cache.js';
import { redirectWith } from '../authorize/redirect_uri.js';
import { oauthError } from '../oauth_error.js';
import { idTokenHint } from './id_token_hint.js';

/** A validated end-session (RP-initiated logout) request. */
export interface EndSessionRequest {
  /** The `sub` of a valid `id_token_hint` (undefined without one). */
  hintSubject: string | undefined;
  /** Where to send the person afterwards (post_logout_redirect_uri with `state`), if the client asked. */
  redirect: string | undefined;
}

const MAX_QUERY = 8192;
const SINGLE = ['id_token_hint', 'post_logout_redirect_uri', 'state', 'client_id', 'ui_locales', 'logout_hint'];

/**
 * OpenID Connect RP-Initiated Logout 1.0 at the end_session_endpoint: `id_token_hint` (an ID token we signed, possibly
 * expired; any other value is refused), `client_id` (must match the hint's audience), `post_logout_redirect_uri`
 * (exact match against the client's registered `postLogoutRedirectUris`; needs a hint or a client_id to name the
 * client) and `state` (passed back). Failures are errors shown on a page, never redirects (no open redirector).
 *
 * @example
 * const request = await endSession.validate(rawQuery); // { hintSubject: 'ada', redirect: 'https://app/bye?state=s' }
 */
export class EndSession {
  constructor(private readonly deps: { clients: ClientCache; jwksJson: () => string; issuer: () => string }) {}

  async validate(rawQuery: string): Promise<EndSessionRequest> {
    if (rawQuery.length > MAX_QUERY) throw oauthError('invalid_request', 'the request is too large');
    const query = new URLSearchParams(rawQuery);
    const repeated = SINGLE.find((name) => query.getAll(name).length > 1);
    if (repeated) throw oauthError('invalid_request', `parameter ${repeated} is repeated`);
    const rawHint = query.get('id_token_hint');
    const hint = rawHint === null ? undefined : idTokenHint(rawHint, this.deps.jwksJson(), this.deps.issuer());
    if (rawHint !== null && hint === undefined) throw oauthError('invalid_request', 'id_token_hint is not valid');
    const clientId = query.get('client_id') ?? hint?.clientId;
    if (hint && clientId !== hint.clientId) throw oauthError('invalid_request', 'client_id does not match the hint');
    const uri = query.get('post_logout_redirect_uri');
    if (uri === null) return { hintSubject: hint?.subject, redirect: undefined };
    if (clientId === undefined) {
      throw oauthError('invalid_request', 'post_logout_redirect_uri needs id_token_hint or client_id');
    }
    const client = await this.deps.clients.get(clientId);
    if (!client?.postLogoutRedirectUris?.includes(uri)) {
      throw oauthError('invalid_request', 'post_logout_redirect_uri is not registered for this client');
    }
    const state = query.get('state') ?? undefined;
    if (state !== undefined && state.length > 2048) throw oauthError('invalid_request', 'state is too long');
    return { hintSubject: hint?.subject, redirect: redirectWith(uri, { state }, 'query') };
  }
}
