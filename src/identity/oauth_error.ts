import { GatehouseError, type ErrorCode } from '../core/index.js';

/** The RFC `error` values the token endpoint answers with (RFC 6749 §5.2, RFC 8707 §2). */
export type OAuthErrorValue =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'temporarily_unavailable'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'login_required'
  | 'consent_required'
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token';

const CODES: Record<OAuthErrorValue, ErrorCode> = {
  invalid_request: 'ERR_OAUTH_INVALID_REQUEST',
  invalid_client: 'ERR_OAUTH_INVALID_CLIENT',
  invalid_grant: 'ERR_OAUTH_INVALID_GRANT',
  unauthorized_client: 'ERR_OAUTH_UNAUTHORIZED_CLIENT',
  unsupported_grant_type: 'ERR_OAUTH_UNSUPPORTED_GRANT_TYPE',
  invalid_scope: 'ERR_OAUTH_INVALID_SCOPE',
  invalid_target: 'ERR_OAUTH_INVALID_TARGET',
  temporarily_unavailable: 'ERR_OAUTH_THROTTLED',
  access_denied: 'ERR_OAUTH_ACCESS_DENIED',
  unsupported_response_type: 'ERR_OAUTH_UNSUPPORTED_RESPONSE_TYPE',
  login_required: 'ERR_OAUTH_LOGIN_REQUIRED',
  consent_required: 'ERR_OAUTH_CONSENT_REQUIRED',
  authorization_pending: 'ERR_OAUTH_AUTHORIZATION_PENDING',
  slow_down: 'ERR_OAUTH_SLOW_DOWN',
  expired_token: 'ERR_OAUTH_EXPIRED_TOKEN',
};

/**
 * A protocol error of the token endpoint: a GatehouseError whose `oauthError` is the RFC value. `description` becomes
 * `error_description`, so it must never hold a secret or echo a credential.
 *
 * @example
 * throw oauthError('invalid_scope', 'scope "admin" is not granted to this client');
 */
export function oauthError(error: OAuthErrorValue, description?: string, detail?: string): GatehouseError {
  return new GatehouseError(CODES[error], {
    oauthError: error,
    ...(description === undefined ? {} : { message: description }),
    ...(detail === undefined ? {} : { detail }),
  });
}

/**
 * A failure of what the endpoint depends on rather than of the request, i.e. a GatehouseError registered with 503
 * (storage unreachable, data sealed under a root key this process does not hold yet, no signing key), as the OAuth
 * error `temporarily_unavailable` with that status and code; undefined for anything else. The client may retry; a
 * replica whose storage is away answers this instead of 500 `server_error`.
 *
 * @example
 * const unavailable = temporarilyUnavailable(err); // ERR_STORE_UNAVAILABLE → 503 temporarily_unavailable
 */
export function temporarilyUnavailable(err: unknown): GatehouseError | undefined {
  if (!(err instanceof GatehouseError) || err.oauthError !== undefined || err.status !== 503) return undefined;
  return new GatehouseError(err.code, {
    oauthError: 'temporarily_unavailable',
    ...(err.detail === undefined ? {} : { detail: err.detail }),
    cause: err,
  });
}

/** The JSON body of an OAuth error response (RFC 6749 §5.2). */
export interface OAuthErrorBody {
  error: string;
  error_description?: string;
}

/**
 * The token endpoint's answer for an OAuth error: its status and RFC body (`error`, `error_description`).
 *
 * @example
 * const { status, body } = oauthErrorResponse(err);
 */
export function oauthErrorResponse(err: GatehouseError): { status: number; body: OAuthErrorBody } {
  const error = err.oauthError ?? 'invalid_request';
  return { status: err.status, body: { error, error_description: err.message } };
}

/** The challenge of an `invalid_client` answer to a client that used the `Authorization` header. */
export const INVALID_CLIENT_CHALLENGE = 'Basic realm="gatehouse", charset="UTF-8", error="invalid_client"';

/**
 * The status and extra headers of an `invalid_client` answer (RFC 6749 §5.2). A client that authenticated with the
 * `Authorization` header gets 401 and a `Basic` challenge (RFC 6749 MUST; the challenge also names the error, for
 * clients that read only the header). Any other (credentials or an assertion in the body, a certificate, a bare
 * `client_id`, nothing) gets 400 without a challenge: a 401 always carries one (RFC 9110 §15.5.2), and relying-party
 * libraries such as openid-client report a 401 with a challenge as a challenge error without reading the body's
 * `error`.
 *
 * @example
 * const { status, headers } = invalidClientAnswer(request.authorization !== undefined);
 */
export function invalidClientAnswer(usedAuthorizationHeader: boolean): {
  status: number;
  headers: Record<string, string>;
} {
  return usedAuthorizationHeader
    ? { status: 401, headers: { 'www-authenticate': INVALID_CLIENT_CHALLENGE } }
    : { status: 400, headers: {} };
}
