import { GatehouseError } from '../../core/index.js';

/** A scope an API defines, with the plain-words description shown to people. */
export interface ApiScope {
  name: string;
  description: string;
}

/** A registered API (resource server): its audience URI and the scopes it understands. */
export interface Api {
  audience: string;
  scopes: ApiScope[];
  createdAt: number;
}

/** Scope tokens per RFC 6749 §3.3 (printable ASCII without space, quote or backslash), kept short. */
export const SCOPE_NAME = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;

/**
 * Checks an audience: an absolute URI without fragment (RFC 8707 §2), at most 512 characters.
 *
 * @example
 * checkAudience('https://orders.internal/api');
 */
export function checkAudience(
  audience: string,
  code: 'ERR_IDENTITY_API_INVALID' | 'ERR_IDENTITY_CLIENT_INVALID',
): void {
  let ok = typeof audience === 'string' && audience.length <= 512 && !audience.includes('#');
  if (ok) {
    try {
      ok = new URL(audience).protocol.length > 1;
    } catch {
      ok = false;
    }
  }
  if (!ok) throw new GatehouseError(code, { message: `audience must be an absolute URI without fragment` });
}

/**
 * Validates a new API's scopes: names are RFC 6749 scope tokens, unique, each with a description of 1-200 characters.
 *
 * @example
 * checkApiScopes([{ name: 'orders:read', description: 'read your orders' }]);
 */
export function checkApiScopes(scopes: readonly ApiScope[]): void {
  const seen = new Set<string>();
  if (scopes.length > 200) throw new GatehouseError('ERR_IDENTITY_API_INVALID', { message: 'at most 200 scopes' });
  for (const scope of scopes) {
    if (!SCOPE_NAME.test(scope.name)) {
      throw new GatehouseError('ERR_IDENTITY_API_INVALID', {
        message: `invalid scope name ${JSON.stringify(scope.name)}`,
      });
    }
    if (seen.has(scope.name)) {
      throw new GatehouseError('ERR_IDENTITY_API_INVALID', { message: `scope ${scope.name} is listed twice` });
    }
    seen.add(scope.name);
    if (typeof scope.description !== 'string' || scope.description.length < 1 || scope.description.length > 200) {
      throw new GatehouseError('ERR_IDENTITY_API_INVALID', {
        message: `scope ${scope.name} needs a description of 1-200 characters`,
      });
    }
  }
}
