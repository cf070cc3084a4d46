import type { ApiKeyRegistry } from '../api_keys/api_key_registry.js';
import { API_KEY_PREFIX } from '../api_keys/api_key_format.js';
import type { IssuedTokenCheck } from '../introspection_tokens.js';
import { corsHeaders, type TokenHttpRequest, type TokenHttpResponse } from '../token_endpoint.js';
import { authenticatedCall, protocolErrorResponse, type ProtocolDeps } from './protocol_call.js';
import type { RevocationList } from './revocation_list.js';

const DONE: TokenHttpResponse = { status: 200, headers: { 'cache-control': 'no-store' }, body: '' };

/**
 * RFC 7009 token revocation. The client authenticates (public clients by client_id); a token issued to it (an access
 * token whose `client_id` is the caller, or an API key the caller owns) is revoked at once: its `jti` (or key id)
 * enters the revocation list until it expires, reaching every verifier through the feed and the push fan-out. Tokens
 * that are unknown, invalid, expired or another client's are answered the same 200, as RFC 7009 §2.2 asks, and left
 * alone. `token_type_hint` is only a hint: both kinds are recognized by their form.
 *
 * @example
 * const endpoint = new RevocationEndpoint({ ...protocolDeps, tokens, revocations, apiKeys });
 * const response = await endpoint.handle({ contentType, body, authorization, address });
 */
export class RevocationEndpoint {
  constructor(
    private readonly deps: ProtocolDeps & {
      tokens: IssuedTokenCheck;
      revocations: RevocationList;
      apiKeys: ApiKeyRegistry;
      /** Refresh tokens (`ghr_`): revoking one revokes its whole grant and the grant's access tokens. */
      refreshTokens?: { revokeOwned(token: string, clientId: string): Promise<boolean> };
    },
  ) {}

  async handle(request: TokenHttpRequest): Promise<TokenHttpResponse> {
    try {
      const { client, params } = await authenticatedCall(request, this.deps, {
        allowPublic: true,
        endpoint: 'revocation',
      });
      const token = params.get('token') as string;
      const origin = request.origin;
      const done: TokenHttpResponse =
        origin !== undefined && client.allowedOrigins?.includes(origin)
          ? { ...DONE, headers: { ...DONE.headers, ...corsHeaders(origin) } }
          : DONE;
      if (token.startsWith(API_KEY_PREFIX)) {
        const key = this.deps.apiKeys.index.verify(token);
        if (key !== undefined && key.owner === client.clientId) {
          await this.deps.apiKeys.revoke(key.id);
          this.deps.audit.info(
            { event: 'api_key.revoked', keyId: key.id, actor: client.clientId, address: request.address },
            'API key revoked',
          );
        }
        return done;
      }
      if (token.startsWith('ghr_') && this.deps.refreshTokens) {
        if (await this.deps.refreshTokens.revokeOwned(token, client.clientId)) {
          this.deps.audit.info(
            { event: 'refresh_token.revoked', clientId: client.clientId, address: request.address },
            'refresh token grant revoked',
          );
        }
        return done;
      }
      const claims = this.deps.tokens.claims(token, this.deps.clock.now());
      if (claims !== undefined && claims['client_id'] === client.clientId) {
        const jti = claims['jti'] as string;
        await this.deps.revocations.revoke({ jti, exp: claims['exp'] as number });
        this.deps.audit.info(
          { event: 'token.revoked', jti, clientId: client.clientId, address: request.address },
          'access token revoked',
        );
      }
      return done;
    } catch (err) {
      return protocolErrorResponse(err, this.deps.audit, request);
    }
  }
}
