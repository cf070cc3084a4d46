import type { Clock } from '../../core/index.js';
import type { AuthorizationCodes } from '../authorize/authorization_codes.js';
import { OFFLINE_ACCESS } from '../authorize/authorization_request.js';
import { verifierMatches } from '../authorize/pkce.js';
import type { IssuedAccess } from '../authorize/refresh_records.js';
import type { RefreshTokens } from '../authorize/refresh_tokens.js';
import type { UserTokenIssuer } from '../authorize/user_tokens.js';
import { oauthError } from '../oauth_error.js';
import { UserRegistry } from '../users/user_registry.js';
import type { Grant, GrantContext, TokenResponse } from './grant.js';

/**
 * The Authorization Code grant (RFC 6749 §4.1.3 with RFC 7636 PKCE): the code is one-time (a replay revokes the
 * refresh family and the access token the code issued, through `revokeAccess`, with or without a refresh token; an
 * exchange still in flight when the replay arrives hands out nothing), bound to the client, to the redirect URI
 * (which must be repeated when the request named it) and to the S256 challenge; `code_verifier` is required. The user
 * must still stand (password unchanged, not disabled). A refresh token is issued only for `offline_access` and a client
 * registered for the refresh_token grant. When `openid` was granted, an OpenID Connect `id_token` (nonce of the
 * request, auth_time, at_hash of this access token) is returned too.
 *
 * @example
 * const grant = authorizationCodeGrant({ codes, refresh, users, tokens, clock, revokeAccess });
 */
export function authorizationCodeGrant(deps: {
  codes: AuthorizationCodes;
  refresh: RefreshTokens;
  users: UserRegistry;
  tokens: UserTokenIssuer;
  clock: Clock;
  /** Revokes access tokens (wired to the revocation list, which the introspection and the feed read). */
  revokeAccess: (access: IssuedAccess[]) => Promise<void>;
}): Grant {
  return {
    grantType: 'authorization_code',
    parameters: ['code', 'redirect_uri', 'code_verifier'],
    async handle(context: GrantContext): Promise<TokenResponse> {
      const { client, params } = context;
      const code = params.get('code');
      const verifier = params.get('code_verifier');
      if (code === undefined) throw oauthError('invalid_request', 'code is required');
      if (verifier === undefined) throw oauthError('invalid_request', 'code_verifier is required (PKCE)');
      if (context.resources.length > 0) throw oauthError('invalid_target', 'the resource was fixed at authorization');
      const use = await deps.codes.consume(code);
      if (use.kind === 'unknown') throw oauthError('invalid_grant', 'the code is invalid or expired');
      const { grant } = use;
      if (use.kind === 'replayed') {
        await deps.refresh.revokeFamily(grant.familyId);
        await deps.revokeAccess(use.access);
        throw replayError();
      }
      if (grant.clientId !== client.clientId)
        throw oauthError('invalid_grant', 'the code was issued to another client');
      const redirectUri = params.get('redirect_uri');
      if ((grant.redirectUriGiven || redirectUri !== undefined) && redirectUri !== grant.redirectUri) {
        throw oauthError('invalid_grant', 'redirect_uri does not match the authorization request');
      }
      if (!grant.codeChallenge || !verifierMatches(verifier, grant.codeChallenge)) {
        throw oauthError('invalid_grant', 'code_verifier does not match the code challenge');
      }
      const user = await deps.users.find(grant.account);
      if (!UserRegistry.accepts(user, grant.generation)) throw oauthError('invalid_grant', 'the sign-in has ended');
      const subject = {
        grantType: 'authorization_code',
        client,
        username: user.username,
        roles: user.roles,
        scopes: grant.scopes,
        audience: grant.audience,
        address: context.address,
        ...(context.confirmation === undefined ? {} : { confirmation: context.confirmation }),
      };
      const at = await deps.tokens.sign(subject, context.issuer, context.now);
      // Recorded before it is handed out, so that a replay revokes it; a replay that came first refuses this exchange.
      if (!(await deps.codes.recordAccess(code, { jti: at.jti, exp: at.exp }))) throw replayError();
      at.audit();
      const response: TokenResponse = {
        access_token: at.token,
        token_type: 'Bearer',
        expires_in: at.expiresIn,
        ...(at.scope === '' ? {} : { scope: grant.scopes.join(' ') }),
      };
      const idToken = await deps.tokens.idToken(
        subject,
        {
          authTime: grant.authTime,
          accessToken: at.token,
          ...(grant.nonce === undefined ? {} : { nonce: grant.nonce }),
        },
        context.issuer,
        context.now,
      );
      if (idToken !== undefined) response.id_token = idToken;
      if (grant.scopes.includes(OFFLINE_ACCESS) && client.grantTypes.includes('refresh_token')) {
        const { token } = await deps.refresh.start(
          {
            familyId: grant.familyId,
            clientId: client.clientId,
            account: grant.account,
            username: user.username,
            generation: grant.generation,
            roles: user.roles,
            scopes: grant.scopes,
            audience: grant.audience,
            authTime: grant.authTime,
          },
          { jti: at.jti, exp: at.exp },
        );
        response.refresh_token = token;
      }
      return response;
    },
  };
}

function replayError() {
  return oauthError('invalid_grant', 'the code was already used', 'authorization code replay: grant revoked');
}
