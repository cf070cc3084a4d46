import type { Api } from '../apis/api.js';
import { OIDC_SCOPE_DESCRIPTIONS } from '../oidc/scopes.js';
import { OFFLINE_ACCESS } from './authorization_request.js';

/** A scope as the consent pages show it: its name and plain words. */
export interface ScopeWords {
  name: string;
  description: string;
}

/**
 * The plain words of granted scopes for a consent page (the sign-in flow's and the device flow's): `offline_access`
 * and the OpenID Connect scopes in our words, an API's scopes in the words its registration gives, else the name.
 *
 * @example
 * scopeWords(['openid', 'orders:read'], api); // [{ name: 'openid', description: 'Confirm who you are (an ID token)' }, ...]
 */
export function scopeWords(names: readonly string[], api: Api | undefined): ScopeWords[] {
  return names.map((name) => ({
    name,
    description:
      name === OFFLINE_ACCESS
        ? 'Stay connected when you are not using it (a refresh token)'
        : (OIDC_SCOPE_DESCRIPTIONS[name] ?? api?.scopes.find((s) => s.name === name)?.description ?? name),
  }));
}
