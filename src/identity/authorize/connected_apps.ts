import type { ConsentStore, ConsentedApi } from './consents.js';
import type { RefreshTokens } from './refresh_tokens.js';

/** One app on the account page: what the person allowed it, and whether it holds refresh tokens. */
export interface ConnectedApp {
  clientId: string;
  /** Remembered consent, per API. */
  allowed: ConsentedApi[];
  /** What its live refresh token families carry, per API (empty: it cannot act once its access token ends). */
  connected: ConsentedApi[];
}

function byAudience(grants: Array<{ audience: string; scopes: readonly string[] }>): ConsentedApi[] {
  const merged = new Map<string, Set<string>>();
  for (const grant of grants) {
    const scopes = merged.get(grant.audience) ?? new Set<string>();
    grant.scopes.forEach((s) => scopes.add(s));
    merged.set(grant.audience, scopes);
  }
  return [...merged].map(([audience, scopes]) => ({ audience, scopes: [...scopes].sort() }));
}

/**
 * The apps a person let act for them, as the account page lists them: every client with a remembered consent or with
 * live refresh tokens (a device connected through the device flow has only the latter). "Revoke" forgets the consent
 * AND revokes the client's refresh token families with the access tokens issued under them, so the app loses access,
 * not only the right to skip the consent page.
 *
 * @example
 * const apps = new ConnectedApps({ consents, refresh });
 * await apps.list('ada');            // [{ clientId: 'web', allowed: [...], connected: [...] }]
 * await apps.revoke('ada', 'web');   // the consent is gone, web's refresh tokens stop working
 */
export class ConnectedApps {
  constructor(private readonly deps: { consents: ConsentStore; refresh: RefreshTokens }) {}

  /** How long a connected app may go without refreshing before it is disconnected (the page says so). */
  get unusedLimitMs(): number {
    return this.deps.refresh.idleMs;
  }

  async list(account: string): Promise<ConnectedApp[]> {
    const [consents, families] = await Promise.all([
      this.deps.consents.list(account),
      this.deps.refresh.familiesOf(account),
    ]);
    const apps = new Map<string, ConnectedApp>();
    const app = (clientId: string) => {
      const found = apps.get(clientId) ?? { clientId, allowed: [], connected: [] };
      apps.set(clientId, found);
      return found;
    };
    for (const consent of consents) app(consent.clientId).allowed = consent.apis;
    const granted = new Map<string, Array<{ audience: string; scopes: readonly string[] }>>();
    for (const family of families) {
      granted.set(family.clientId, [...(granted.get(family.clientId) ?? []), family]);
    }
    for (const [clientId, grants] of granted) app(clientId).connected = byAudience(grants);
    return [...apps.values()];
  }

  /** Forgets the consent and revokes the refresh token families (and their access tokens) of one client. */
  async revoke(account: string, clientId: string): Promise<void> {
    await this.deps.consents.revoke(account, clientId);
    await this.deps.refresh.revokeClientOf(account, clientId);
  }
}
