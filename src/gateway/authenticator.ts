import type { IncomingHttpHeaders } from 'node:http';
import { GatehouseError } from '../core/index.js';
import type { RouteConfig } from './gateway_config.js';

/**
 * The verified caller, as the gateway needs it. The resource-server verifier's `Principal` fits it structurally;
 * `apiKeyId` names the API key (set by the wiring in src/app for API-key principals).
 */
export interface GatewayPrincipal {
  kind: 'jwt' | 'api_key';
  sub: string;
  clientId: string;
  scopes: ReadonlySet<string>;
  roles: readonly string[];
  /** The `kid` of the key that signed a JWT. */
  keyId?: string;
  /** The id of the API key, for API-key principals. */
  apiKeyId?: string;
}

/**
 * The authentication port of the gateway. Implementations throw GatehouseError: ERR_TOKEN_MISSING (401),
 * ERR_TOKEN_INVALID (401), ERR_TOKEN_REQUEST_INVALID (400), ERR_VERIFIER_UNAVAILABLE (503). `kind` is the route's
 * `auth.kind`: a JWT route must refuse API keys and the reverse.
 *
 * @example
 * const authenticator: Authenticator = { authenticate: (headers, kind) => verifier.verifyRequest(headers) };
 */
export interface Authenticator {
  /** A principal at once when the credential is already known to be good (no promise on the hot path), else a promise. */
  authenticate(headers: IncomingHttpHeaders, kind: 'jwt' | 'api_key'): GatewayPrincipal | Promise<GatewayPrincipal>;
}

/** An authenticator that refuses everyone: the default until a verifier is wired. */
export const refuseAllAuthenticator: Authenticator = {
  authenticate: async () => {
    throw new GatehouseError('ERR_TOKEN_INVALID', { detail: 'no authenticator is configured in this gateway' });
  },
};

/**
 * The authorization stage: every `scopes`, one of `anyScopes` (when set) and every `roles` entry; otherwise
 * ERR_TOKEN_INSUFFICIENT_SCOPE (403).
 *
 * @example
 * authorize(route.auth, principal); // throws 403 when a scope is missing
 */
export function authorize(auth: RouteConfig['auth'], principal: GatewayPrincipal | undefined): void {
  if (auth.kind === 'none') return;
  if (principal === undefined || !satisfies(auth, principal)) {
    throw new GatehouseError('ERR_TOKEN_INSUFFICIENT_SCOPE', {
      oauthError: 'insufficient_scope',
      detail: `route requires scopes [${auth.scopes.join(' ')}] any of [${auth.anyScopes.join(' ')}] roles [${auth.roles.join(' ')}]`,
    });
  }
}

/** Every scope, one of the any-scopes (when there are some), every role: loops, no closure per request. */
function satisfies(auth: RouteConfig['auth'], p: GatewayPrincipal): boolean {
  for (const scope of auth.scopes) if (!p.scopes.has(scope)) return false;
  if (auth.anyScopes.length > 0) {
    let any = false;
    for (const scope of auth.anyScopes) any ||= p.scopes.has(scope);
    if (!any) return false;
  }
  for (const role of auth.roles) if (!p.roles.includes(role)) return false;
  return true;
}
