import type { Clock, RecordStore } from '../../core/index.js';

/** Collection of remembered consents, keyed `account|clientId`. */
export const CONSENTS_COLLECTION = 'identity_consents';

/** What a person allowed a client, remembered per client and scope. */
export interface Consent {
  clientId: string;
  scopes: string[];
  grantedAt: number;
}

/**
 * Remembered consents: "Allow" with "remember" adds the scopes for that client; a later request is asked again only
 * for scopes not yet allowed. People list and revoke them on the account page.
 *
 * @example
 * await consents.remember('ada', 'web', ['orders:read']);
 * await consents.covers('ada', 'web', ['orders:read']); // true
 */
export class ConsentStore {
  constructor(private readonly deps: { store: RecordStore; clock: Clock }) {}

  async remember(account: string, clientId: string, scopes: readonly string[]): Promise<void> {
    const key = `${account}|${clientId}`;
    const current = await this.deps.store.get<Consent>(CONSENTS_COLLECTION, key);
    const merged = [...new Set([...(current?.value.scopes ?? []), ...scopes])].sort();
    await this.deps.store.write([
      {
        op: 'upsert',
        collection: CONSENTS_COLLECTION,
        key,
        value: { clientId, scopes: merged, grantedAt: this.deps.clock.now() } satisfies Consent,
      },
    ]);
  }

  async covers(account: string, clientId: string, scopes: readonly string[]): Promise<boolean> {
    const rec = await this.deps.store.get<Consent>(CONSENTS_COLLECTION, `${account}|${clientId}`);
    return rec !== undefined && scopes.every((s) => rec.value.scopes.includes(s));
  }

  async list(account: string): Promise<Consent[]> {
    const records = await this.deps.store.list<Consent>(CONSENTS_COLLECTION, { prefix: `${account}|`, limit: 500 });
    return records.map((r) => r.value);
  }

  async revoke(account: string, clientId: string): Promise<void> {
    await this.deps.store
      .write([{ op: 'delete', collection: CONSENTS_COLLECTION, key: `${account}|${clientId}` }])
      .catch(() => undefined);
  }
}
