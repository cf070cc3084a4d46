import type { Logger } from '../../core/index.js';
import type { User } from '../users/user.js';
import type { AuthorizationCodes } from './authorization_codes.js';
import { apiScopesOf, type AuthorizationRequest } from './authorization_request.js';
import { RefreshTokens } from './refresh_tokens.js';
import { redirectWith } from './redirect_uri.js';
import type { UserTokenIssuer } from './user_tokens.js';

/**
 * The successful end of an authorization request, once the person is signed in and has consented: the redirect with a
 * one-time `code` bound to the client, redirect URI, challenge, scopes, audience and user (plus `state` and `iss`), or,
 * for the legacy implicit flow, the access token in the fragment (RFC 6749 §4.2.2) with a deprecation warning logged.
 *
 * @example
 * const location = await respond(request, { ...user, account }, authTime, { codes, tokens, logger, issuer, implicitTtlMs, now });
 */
export async function respond(
  request: AuthorizationRequest,
  user: User & { account: string },
  authTime: number,
  deps: {
    codes: AuthorizationCodes;
    tokens: UserTokenIssuer;
    logger: Logger;
    issuer: string;
    implicitTtlMs: number;
    now: number;
  },
): Promise<string> {
  const { issuer, now } = deps;
  if (request.responseType === 'token') {
    deps.logger.warn(
      { event: 'legacy_implicit_used', clientId: request.client.clientId },
      'the implicit flow (response_type=token) is deprecated (RFC 9700 §2.1.2); move this client to code + PKCE',
    );
    const at = await deps.tokens.issue(
      {
        grantType: 'implicit',
        client: request.client,
        username: user.username,
        roles: user.roles,
        scopes: apiScopesOf(request),
        audience: request.audience,
        address: 'browser',
      },
      issuer,
      now,
      deps.implicitTtlMs,
    );
    const params = {
      access_token: at.token,
      token_type: 'Bearer',
      expires_in: String(at.expiresIn),
      ...(at.scope === '' ? {} : { scope: at.scope }),
      state: request.state,
      iss: issuer,
    };
    return redirectWith(request.redirectUri, params, 'fragment');
  }
  const code = await deps.codes.issue({
    clientId: request.client.clientId,
    redirectUri: request.redirectUri,
    redirectUriGiven: request.redirectUriGiven,
    codeChallenge: request.codeChallenge as string,
    scopes: request.scopes,
    audience: request.audience,
    account: user.account,
    username: user.username,
    generation: user.generation,
    roles: user.roles,
    authTime,
    ...(request.nonce === undefined ? {} : { nonce: request.nonce }),
    familyId: RefreshTokens.newFamilyId(),
  });
  return redirectWith(request.redirectUri, { code, state: request.state, iss: issuer }, 'query');
}
