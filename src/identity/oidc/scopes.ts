/** The scope that asks for an ID token (OpenID Connect Core §3.1.2.1). */
export const OPENID = 'openid';

/**
 * Scopes of OpenID Connect itself (not of any API): `openid`, `profile` (preferred_username) and `roles` (the
 * person's roles). A code flow client may ask for them without registering them.
 */
export const OIDC_SCOPES: readonly string[] = Object.freeze([OPENID, 'profile', 'roles']);

/** The claims the ID token and userinfo may hold (`claims_supported`). */
export const OIDC_CLAIMS: readonly string[] = Object.freeze([
  'sub',
  'iss',
  'aud',
  'exp',
  'iat',
  'auth_time',
  'nonce',
  'at_hash',
  'preferred_username',
  'roles',
]);

/**
 * The person's claims the granted scopes allow (beyond `sub`): `profile` → preferred_username, `roles` → roles.
 *
 * @example
 * scopedClaims(['openid', 'profile'], { username: 'alice', roles: [] }); // { preferred_username: 'alice' }
 */
export function scopedClaims(
  scopes: readonly string[],
  person: { username: string; roles: readonly string[] },
): Record<string, unknown> {
  return {
    ...(scopes.includes('profile') ? { preferred_username: person.username } : {}),
    ...(scopes.includes('roles') ? { roles: [...person.roles] } : {}),
  };
}

/** What the consent page says of each OpenID Connect scope. */
export const OIDC_SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = Object.freeze({
  openid: 'Confirm who you are (an ID token)',
  profile: 'See your username',
  roles: 'See your roles',
});
