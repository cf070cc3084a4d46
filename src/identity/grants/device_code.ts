import { OFFLINE_ACCESS } from '../authorize/authorization_request.js';
import { RefreshTokens } from '../authorize/refresh_tokens.js';
import type { UserTokenIssuer } from '../authorize/user_tokens.js';
import type { DeviceAuthorizations } from '../device/device_authorizations.js';
import { oauthError } from '../oauth_error.js';
import { UserRegistry } from '../users/user_registry.js';
import type { Grant, GrantContext, TokenResponse } from './grant.js';

/** The RFC 8628 §3.4 grant type. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * The Device Authorization Grant's token request (RFC 8628 §3.4/§3.5): the device polls with `device_code`; the answer
 * is authorization_pending, slow_down (polled before `interval`, or raced a parallel poll), access_denied,
 * expired_token or, once, the tokens. The approving user must still stand (password unchanged, not disabled). A
 * refresh token is issued only for `offline_access` and a client registered for the refresh_token grant; an ID token
 * when `openid` was granted.
 *
 * @example
 * const grant = deviceCodeGrant({ devices, refresh, users, tokens });
 */
export function deviceCodeGrant(deps: {
  devices: DeviceAuthorizations;
  refresh: RefreshTokens;
  users: UserRegistry;
  tokens: UserTokenIssuer;
}): Grant {
  return {
    grantType: DEVICE_CODE_GRANT,
    parameters: ['device_code'],
    async handle(context: GrantContext): Promise<TokenResponse> {
      const { client } = context;
      const deviceCode = context.params.get('device_code');
      if (deviceCode === undefined) throw oauthError('invalid_request', 'device_code is required');
      if (context.resources.length > 0) throw oauthError('invalid_target', 'the resource was fixed at authorization');
      const poll = await deps.devices.poll(deviceCode, client.clientId);
      if (poll.kind === 'denied') throw oauthError('access_denied');
      const { authorization } = poll;
      const approval = authorization.approval;
      const user = approval ? await deps.users.find(approval.account) : undefined;
      if (!approval || !UserRegistry.accepts(user, approval.generation))
        throw oauthError('invalid_grant', 'the sign-in has ended');
      const subject = {
        grantType: DEVICE_CODE_GRANT,
        client,
        username: user.username,
        roles: user.roles,
        scopes: authorization.scopes,
        audience: authorization.audience,
        address: context.address,
        ...(context.confirmation === undefined ? {} : { confirmation: context.confirmation }),
      };
      const at = await deps.tokens.issue(subject, context.issuer, context.now);
      const response: TokenResponse = {
        access_token: at.token,
        token_type: 'Bearer',
        expires_in: at.expiresIn,
        ...(at.scope === '' ? {} : { scope: authorization.scopes.join(' ') }),
      };
      // OpenID Connect over the device flow (as Keycloak and Auth0 do): auth_time is the approving sign-in's; there is
      // no nonce, since no front channel carried one.
      const idToken = await deps.tokens.idToken(
        subject,
        { authTime: approval.authTime, accessToken: at.token },
        context.issuer,
        context.now,
      );
      if (idToken !== undefined) response.id_token = idToken;
      if (authorization.scopes.includes(OFFLINE_ACCESS) && client.grantTypes.includes('refresh_token')) {
        const { token } = await deps.refresh.start(
          {
            familyId: RefreshTokens.newFamilyId(),
            clientId: client.clientId,
            account: approval.account,
            username: user.username,
            generation: approval.generation,
            roles: user.roles,
            scopes: authorization.scopes,
            audience: authorization.audience,
            authTime: approval.authTime,
          },
          { jti: at.jti, exp: at.exp },
        );
        response.refresh_token = token;
      }
      return response;
    },
  };
}
