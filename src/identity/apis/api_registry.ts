import { GatehouseError, isGatehouseError, type Clock, type RecordStore } from '../../core/index.js';
import { checkApiScopes, checkAudience, type Api, type ApiScope } from './api.js';

/** The collection of registered APIs, keyed by audience. */
export const APIS_COLLECTION = 'identity_apis';

/**
 * The registry of APIs (resource servers) on the RecordStore port: audiences and the scopes each defines. Client
 * registrations and token requests validate scopes and audiences against it.
 *
 * @example
 * const apis = new ApiRegistry({ store, clock });
 * await apis.create('https://orders.internal', [{ name: 'orders:read', description: 'read orders' }]);
 */
export class ApiRegistry {
  constructor(private readonly deps: { store: RecordStore; clock: Clock; onChange?: () => void }) {}

  async create(audience: string, scopes: readonly ApiScope[]): Promise<Api> {
    checkAudience(audience, 'ERR_IDENTITY_API_INVALID');
    checkApiScopes(scopes);
    const api: Api = {
      audience,
      scopes: scopes.map((s) => ({ name: s.name, description: s.description })),
      createdAt: this.deps.clock.now(),
    };
    try {
      await this.deps.store.write([{ op: 'insert', collection: APIS_COLLECTION, key: audience, value: api }]);
    } catch (err) {
      if (isGatehouseError(err, 'ERR_STORE_CONFLICT')) throw new GatehouseError('ERR_IDENTITY_API_EXISTS');
      throw err;
    }
    this.deps.onChange?.();
    return api;
  }

  async get(audience: string): Promise<Api | undefined> {
    return (await this.deps.store.get<Api>(APIS_COLLECTION, audience))?.value;
  }

  async require(audience: string): Promise<Api> {
    const api = await this.get(audience);
    if (!api) throw new GatehouseError('ERR_IDENTITY_API_NOT_FOUND');
    return api;
  }

  /** Every API, ordered by audience (bounded: the registry is small by nature; paged internally). */
  async list(): Promise<Api[]> {
    const out: Api[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.deps.store.list<Api>(APIS_COLLECTION, { limit: 500, ...(after ? { after } : {}) });
      out.push(...page.map((r) => r.value));
      if (page.length < 500) return out;
      after = page[page.length - 1]?.key;
    }
  }

  async delete(audience: string): Promise<void> {
    await this.require(audience);
    await this.deps.store.write([{ op: 'delete', collection: APIS_COLLECTION, key: audience }]);
    this.deps.onChange?.();
  }
}
