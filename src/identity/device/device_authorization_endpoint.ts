import type { ApiCatalog } from '../apis/api_catalog.js';
import { OFFLINE_ACCESS } from '../authorize/authorization_request.js';
import type { Client } from '../clients/client.js';
import { authenticateClient, isInvalidClient, presentedCredentials } from '../clients/client_auth.js';
import { parseScope } from '../grants/client_credentials.js';
import { DEVICE_CODE_GRANT } from '../grants/device_code.js';
import { oauthError } from '../oauth_error.js';
import { OIDC_SCOPES } from '../oidc/scopes.js';
import { NO_STORE, protocolErrorResponse, type ProtocolDeps } from '../revocation/protocol_call.js';
import type { TokenHttpRequest, TokenHttpResponse } from '../token_endpoint.js';
import { parseTokenRequest } from '../token_request.js';
import type { DeviceAuthorizations } from './device_authorizations.js';
import { formatUserCode } from './user_code.js';

/** The device page path (the `verification_uri`), relative to the issuer. */
export const DEVICE_VERIFICATION_PATH = '/oauth2/device';

/**
 * The device authorization endpoint (RFC 8628 §3.1/§3.2): authenticates the client (public clients too) under the
 * throttle, checks it is registered for the device_code grant, fixes audience (`resource`, else the client's first)
 * and scopes (`scope`, else the client's scopes of that API; `offline_access` when it may refresh), and answers
 * `device_code`, `user_code` (`XXXX-XXXX`), `verification_uri`, `verification_uri_complete`, `expires_in`, `interval`.
 *
 * @example
 * const response = await endpoint.handle({ contentType, body, authorization, address });
 */
export class DeviceAuthorizationEndpoint {
  constructor(
    private readonly deps: ProtocolDeps & {
      devices: DeviceAuthorizations;
      apis: ApiCatalog;
      /** Wrong code entries the limits admit during one code lifetime (the guessing bound's `A`). */
      attempts: number;
    },
  ) {}

  async handle(request: TokenHttpRequest): Promise<TokenHttpResponse> {
    try {
      return await this.process(request);
    } catch (err) {
      return protocolErrorResponse(err, this.deps.audit, request);
    }
  }

  private async process(request: TokenHttpRequest): Promise<TokenHttpResponse> {
    const { deps } = this;
    const { params, resources } = parseTokenRequest(request.contentType, request.body, deps.maxParameters);
    const presented = presentedCredentials(request.authorization, params, request.certificate);
    const clientId = presented.clientId.slice(0, 128);
    await deps.throttle.admit(request.address, clientId);
    let client: Client;
    try {
      client = await authenticateClient(presented, {
        cache: deps.cache,
        store: deps.store,
        now: deps.clock.now(),
        audiences: [deps.issuer(), deps.endpointUrl()],
      });
    } catch (err) {
      if (isInvalidClient(err)) {
        await deps.throttle.failed(request.address, clientId);
        deps.audit.warn(
          { event: 'client.auth_failed', endpoint: 'device_authorization', clientId, address: request.address },
          'client authentication failed',
        );
      }
      throw err;
    }
    if (!client.grantTypes.includes(DEVICE_CODE_GRANT)) throw oauthError('unauthorized_client');
    if (resources.length > 1) throw oauthError('invalid_target', 'one resource per request');
    const audience = resources[0] ?? client.audiences[0];
    if (audience === undefined) throw oauthError('invalid_target', 'the client has no default audience');
    if (!client.audiences.includes(audience))
      throw oauthError('invalid_target', 'resource not allowed for this client');
    const api = await deps.apis.get(audience);
    if (!api) throw oauthError('invalid_target', 'resource is not a registered API');
    const rawScope = params.get('scope');
    let scopes: string[];
    try {
      scopes =
        rawScope === undefined
          ? client.scopes.filter((s) => api.scopes.some((d) => d.name === s))
          : parseScope(rawScope);
    } catch {
      throw oauthError('invalid_scope', 'malformed scope');
    }
    for (const scope of scopes) {
      const offline = scope === OFFLINE_ACCESS && client.grantTypes.includes('refresh_token');
      const oidc = OIDC_SCOPES.includes(scope);
      if (!offline && !oidc && (!client.scopes.includes(scope) || !api.scopes.some((d) => d.name === scope))) {
        throw oauthError('invalid_scope', 'a requested scope is not granted to this client for this resource');
      }
    }
    const started = await deps.devices.start({ clientId: client.clientId, scopes, audience }, deps.attempts);
    const shown = formatUserCode(started.userCode);
    const verificationUri = `${deps.issuer()}${DEVICE_VERIFICATION_PATH}`;
    const body = {
      device_code: started.deviceCode,
      user_code: shown,
      verification_uri: verificationUri,
      verification_uri_complete: `${verificationUri}?user_code=${encodeURIComponent(shown)}`,
      expires_in: started.expiresIn,
      interval: started.interval,
    };
    return { status: 200, headers: NO_STORE, body: JSON.stringify(body) };
  }
}
