import type { ApiKey } from './api_keys/api_key.js';
import type { ApiKeyRegistry } from './api_keys/api_key_registry.js';
import { API_KEY_PREFIX } from './api_keys/api_key_format.js';
import type { Client } from './clients/client.js';
import type { IssuedTokenCheck } from './introspection_tokens.js';
import { authenticatedCall, NO_STORE, protocolErrorResponse, type ProtocolDeps } from './revocation/protocol_call.js';
import type { RevocationList } from './revocation/revocation_list.js';
import type { TokenHttpRequest, TokenHttpResponse } from './token_endpoint.js';

const INACTIVE: TokenHttpResponse = { status: 200, headers: NO_STORE, body: '{"active":false}' };

/** The claims an active JWT's answer repeats (RFC 7662 §2.2), in this order. */
const ANSWERED_CLAIMS = ['scope', 'client_id', 'sub', 'aud', 'iss', 'exp', 'iat', 'nbf', 'jti', 'roles', 'cnf'];

/** The answer of an active JWT depends on its (frozen, remembered) claims only: built once per claims object. */
const jwtAnswers = new WeakMap<object, string>();

function jwtAnswer(claims: Readonly<Record<string, unknown>>): string {
  let body = jwtAnswers.get(claims);
  if (body === undefined) {
    const answer: Record<string, unknown> = { active: true, token_type: 'Bearer' };
    for (const name of ANSWERED_CLAIMS) {
      if (claims[name] !== undefined) answer[name] = claims[name];
    }
    body = JSON.stringify(answer);
    jwtAnswers.set(claims, body);
  }
  return body;
}

/**
 * The role that marks a client as a resource server: with it, the client may introspect tokens whose `aud` names one
 * of the client's `audiences` (`gatehouse client create … --audience <api> --role resource-server`).
 */
export const RESOURCE_SERVER_ROLE = 'resource-server';

/** Whether `caller` may learn about a token for these audiences and this owning client. */
function callerMayKnow(caller: Client, ownerClientId: string | null, audiences: readonly string[]): boolean {
  if (ownerClientId !== null && caller.clientId === ownerClientId) return true;
  if (!caller.roles.includes(RESOURCE_SERVER_ROLE)) return false;
  return audiences.some((aud) => caller.audiences.includes(aud));
}

function audiencesOf(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}

/**
 * RFC 7662 token introspection for our JWT access tokens and API keys, answered in process (signature check with
 * the signing keys in memory, the in-memory revocation list, the in-memory API key index: no store read). The caller
 * authenticates as a confidential client; it learns about a token only when it is the token's own client (an API
 * key's owner) or a resource server named in its `aud` (a client with the `resource-server` role whose `audiences`
 * hold one of them; for an API key without audiences, any resource server). Everyone else, and every unknown, malformed,
 * expired or revoked token, or one whose client was deleted, gets exactly `{"active":false}`. A certificate-bound token's answer carries its `cnf` (RFC 8705 §3.2).
 *
 * @example
 * const endpoint = new IntrospectionEndpoint({ ...protocolDeps, tokens, revocations, apiKeys });
 * const response = await endpoint.handle({ contentType, body, authorization, address });
 */
export class IntrospectionEndpoint {
  constructor(
    private readonly deps: ProtocolDeps & {
      tokens: IssuedTokenCheck;
      revocations: RevocationList;
      apiKeys: ApiKeyRegistry;
    },
  ) {}

  async handle(request: TokenHttpRequest): Promise<TokenHttpResponse> {
    try {
      const { client, params } = await authenticatedCall(request, this.deps, {
        allowPublic: false,
        endpoint: 'introspection',
      });
      const token = params.get('token') as string;
      const body = token.startsWith(API_KEY_PREFIX) ? this.apiKey(client, token) : await this.jwt(client, token);
      if (body === undefined) return INACTIVE;
      return { status: 200, headers: NO_STORE, body };
    } catch (err) {
      return protocolErrorResponse(err, this.deps.audit, request);
    }
  }

  private async jwt(caller: Client, token: string): Promise<string | undefined> {
    const now = this.deps.clock.now();
    const claims = this.deps.tokens.claims(token, now);
    if (claims === undefined || this.deps.revocations.isRevoked(claims['jti'] as string, now)) return undefined;
    const clientId = typeof claims['client_id'] === 'string' ? claims['client_id'] : null;
    if (!callerMayKnow(caller, clientId, audiencesOf(claims['aud']))) return undefined;
    // The token of a deleted client is inactive (as Keycloak and Hydra answer); the client cache keeps this a memory
    // read, and another replica's deletion is seen within the cache's TTL.
    if (clientId !== null && clientId !== caller.clientId && (await this.deps.cache.get(clientId)) === undefined) {
      return undefined;
    }
    return jwtAnswer(claims);
  }

  private apiKey(caller: Client, token: string): string | undefined {
    const key: ApiKey | undefined = this.deps.apiKeys.index.verify(token);
    if (key === undefined || this.deps.revocations.isRevoked(key.id, this.deps.clock.now())) return undefined;
    const mayKnow =
      callerMayKnow(caller, key.owner, key.audiences) ||
      (key.audiences.length === 0 && caller.roles.includes(RESOURCE_SERVER_ROLE));
    if (!mayKnow) return undefined;
    return JSON.stringify({
      active: true,
      token_type: 'api_key',
      scope: key.scopes.join(' '),
      client_id: key.id,
      key_id: key.id,
      sub: key.owner ?? key.id,
      iss: this.deps.issuer(),
      iat: Math.floor(key.createdAt / 1000),
      jti: key.id,
      ...(key.expiresAt === null ? {} : { exp: Math.floor(key.expiresAt / 1000) }),
      ...(key.audiences.length === 0 ? {} : { aud: key.audiences.length === 1 ? key.audiences[0] : key.audiences }),
    });
  }
}
