/** Who is calling, as established by a verified JWT access token or an introspected API key. */
export interface Principal {
  kind: 'jwt' | 'api_key';
  /** `sub`: the user, or the client itself for client-credentials tokens. */
  sub: string;
  /** `client_id` of the OAuth client the token was issued to. */
  clientId: string;
  /** The granted scopes (the space-separated `scope` claim). */
  scopes: ReadonlySet<string>;
  /** The `roles` claim (RFC 9068 §2.2.3.1), empty when absent. */
  roles: readonly string[];
  /** Every claim of the token or introspection answer, as received. */
  claims: Readonly<Record<string, unknown>>;
  /** The `kid` of the key that signed a JWT. */
  keyId?: string;
}

/**
 * Builds a {@link Principal} from JWT claims or an RFC 7662 introspection answer (`scope` string, `roles` array).
 *
 * @example
 * const principal = principalFromClaims('jwt', payload, header.kid);
 */
export function principalFromClaims(
  kind: Principal['kind'],
  claims: Record<string, unknown>,
  keyId?: string,
): Principal {
  const scope = claims['scope'];
  const roles = claims['roles'];
  const principal: Principal = {
    kind,
    sub: typeof claims['sub'] === 'string' ? claims['sub'] : '',
    clientId: typeof claims['client_id'] === 'string' ? claims['client_id'] : '',
    scopes: new Set(typeof scope === 'string' && scope.length > 0 ? scope.split(' ').filter((s) => s !== '') : []),
    roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [],
    claims,
  };
  if (keyId !== undefined) principal.keyId = keyId;
  return principal;
}
