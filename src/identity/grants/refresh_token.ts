import { OFFLINE_ACCESS } from '../authorize/authorization_request.js';
import type { RefreshTokens } from '../authorize/refresh_tokens.js';
import type { SignedUserToken, UserTokenIssuer } from '../authorize/user_tokens.js';
import { oauthError } from '../oauth_error.js';
import { UserRegistry } from '../users/user_registry.js';
import { parseScope } from './client_credentials.js';
import type { Grant, GrantContext, TokenResponse } from './grant.js';

/**
 * The Refresh Token grant (RFC 6749 §6) with rotation (RFC 9700 §4.14.2): every use returns a new refresh token; a
 * rotated token presented again revokes the whole family (outside the grace window, see RefreshTokens). Bound to the
 * client, the original scopes (a narrower `scope` may be asked for this access token) and audience (`resource`, when
 * given, must be that audience). The user must still stand, else the family is revoked. When `openid` is among the
 * scopes of this access token, a new ID token (same auth_time, no nonce) comes with it.
 *
 * @example
 * const grant = refreshTokenGrant({ refresh, users, tokens });
 */
export function refreshTokenGrant(deps: {
  refresh: RefreshTokens;
  users: UserRegistry;
  tokens: UserTokenIssuer;
}): Grant {
  return {
    grantType: 'refresh_token',
    parameters: ['refresh_token', 'scope', 'resource'],
    async handle(context: GrantContext): Promise<TokenResponse> {
      const { client, params } = context;
      const token = params.get('refresh_token');
      if (token === undefined) throw oauthError('invalid_request', 'refresh_token is required');
      const family = await deps.refresh.familyOf(token);
      if (!family || family.clientId !== client.clientId) {
        throw oauthError('invalid_grant', 'the refresh token is invalid, expired or revoked');
      }
      if (context.resources.length > 1) throw oauthError('invalid_target', 'one resource per token request');
      const resource = context.resources[0];
      if (resource !== undefined && resource !== family.audience) {
        throw oauthError('invalid_target', 'the refresh token was granted for another resource');
      }
      const requested = params.get('scope');
      const scopes = requested === undefined ? family.scopes : parseScope(requested);
      if (scopes.some((s) => !family.scopes.includes(s))) {
        throw oauthError('invalid_scope', 'a requested scope exceeds the original grant');
      }
      const user = await deps.users.find(family.account);
      if (!UserRegistry.accepts(user, family.generation)) {
        await deps.refresh.revokeFamily(family);
        throw oauthError('invalid_grant', 'the refresh token is invalid, expired or revoked', 'user changed');
      }
      const subject = {
        grantType: 'refresh_token',
        client,
        username: user.username,
        roles: user.roles,
        scopes,
        audience: family.audience,
        address: context.address,
        ...(context.confirmation === undefined ? {} : { confirmation: context.confirmation }),
      };
      // Signed before the rotation (the family records the new token's jti and exp) and audited only once the rotation
      // happened. A signing failure surfaces inside the rotation callback, after a reused token has revoked its
      // family, exactly as when the token was signed in the callback.
      let signed: SignedUserToken | undefined;
      let failure: unknown;
      try {
        signed = await deps.tokens.sign(subject, context.issuer, context.now);
      } catch (err) {
        failure = err;
      }
      const use = await deps.refresh.use(token, () => {
        if (signed === undefined) throw failure;
        return { jti: signed.jti, exp: signed.exp };
      });
      if ((use.kind !== 'rotated' && use.kind !== 'grace') || signed === undefined) {
        throw oauthError(
          'invalid_grant',
          'the refresh token is invalid, expired or revoked',
          use.kind === 'reused' ? 'refresh token reuse: family revoked' : undefined,
        );
      }
      signed.audit();
      const scope = scopes.filter((s) => s !== OFFLINE_ACCESS);
      const idToken = await deps.tokens.idToken(
        subject,
        { authTime: family.authTime, accessToken: signed.token },
        context.issuer,
        context.now,
      );
      return {
        access_token: signed.token,
        token_type: 'Bearer',
        expires_in: signed.expiresIn,
        refresh_token: use.token,
        ...(scope.length === 0 ? {} : { scope: scopes.join(' ') }),
        ...(idToken === undefined ? {} : { id_token: idToken }),
      };
    },
  };
}
