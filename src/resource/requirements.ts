import { GatehouseError } from '../core/index.js';
import type { Principal } from './principal.js';

/** What a route needs: every scope of `allOf`, at least one of `anyOf`, every role of `roles`. */
export interface Requirement {
  allOf?: readonly string[];
  anyOf?: readonly string[];
  roles?: readonly string[];
}

/** The RFC 6750 `insufficient_scope` error, carrying the scopes the route asked for (sent as `scope="…"`). */
export class InsufficientScopeError extends GatehouseError {
  readonly requiredScopes: readonly string[];
  constructor(requiredScopes: readonly string[], detail: string) {
    super('ERR_TOKEN_INSUFFICIENT_SCOPE', { oauthError: 'insufficient_scope', detail });
    this.requiredScopes = requiredScopes;
  }
}

/**
 * A check of one route's {@link Requirement}: throws {@link InsufficientScopeError} when the principal falls short.
 *
 * @example
 * const canWrite = requireScopes({ allOf: ['orders:write'], roles: ['clerk'] });
 * canWrite(principal);
 */
export function requireScopes(requirement: Requirement): (principal: Principal) => void {
  const allOf = [...(requirement.allOf ?? [])];
  const anyOf = [...(requirement.anyOf ?? [])];
  const roles = [...(requirement.roles ?? [])];
  const advertised = [...allOf, ...anyOf];
  return (principal) => {
    for (const s of allOf) {
      if (!principal.scopes.has(s)) throw new InsufficientScopeError(advertised, `missing scope ${s}`);
    }
    if (anyOf.length > 0 && !anyOf.some((s) => principal.scopes.has(s))) {
      throw new InsufficientScopeError(advertised, 'none of the anyOf scopes');
    }
    for (const r of roles) {
      if (!principal.roles.includes(r)) throw new InsufficientScopeError(advertised, `missing role ${r}`);
    }
  };
}
