import type { Clock, RecordStore } from '../../core/index.js';

/** Collection of remembered consents, keyed `account|clientId`. */
export const CONSENTS_COLLECTION = 'identity_consents';

/** The scopes allowed for one API. A scope name means something only within its API (its audience). */
export interface ConsentedApi {
  audience: string;
  scopes: string[];
}

/** What a person allowed a client, remembered per API (audience) and scope. */
export interface Consent {
  clientId: string;
  apis: ConsentedApi[];
  grantedAt: number;
}

/**
 * The APIs of a stored consent. A record of the older format (`scopes` without an audience) yields none: its scope
 * names cannot be told apart between APIs, so it allows nothing and the person is asked again.
 */
function apisOf(value: unknown): ConsentedApi[] {
  const apis = (value as { apis?: unknown } | undefined)?.apis;
  if (!Array.isArray(apis)) return [];
  return apis.filter(
    (a): a is ConsentedApi =>
      typeof (a as ConsentedApi | null)?.audience === 'string' && Array.isArray((a as ConsentedApi).scopes),
  );
}

/**
 * Remembered consents: "Allow" with "remember" adds the scopes for that client and API (audience); a later request is
 * asked again for scopes not yet allowed for its audience (two APIs may both define `read`). People list and revoke
 * them per client on the account page.
 *
 * @example
 * await consents.remember('ada', 'web', 'https://orders.example', ['orders:read']);
 * await consents.covers('ada', 'web', 'https://orders.example', ['orders:read']); // true
 * await consents.covers('ada', 'web', 'https://billing.example', ['orders:read']); // false
 */
export class ConsentStore {
  constructor(private readonly deps: { store: RecordStore; clock: Clock }) {}

  async remember(account: string, clientId: string, audience: string, scopes: readonly string[]): Promise<void> {
    const key = `${account}|${clientId}`;
    const current = await this.deps.store.get<unknown>(CONSENTS_COLLECTION, key);
    const apis = apisOf(current?.value);
    const earlier = apis.find((a) => a.audience === audience)?.scopes ?? [];
    const merged = [...new Set([...earlier, ...scopes])].sort();
    const value: Consent = {
      clientId,
      apis: [...apis.filter((a) => a.audience !== audience), { audience, scopes: merged }],
      grantedAt: this.deps.clock.now(),
    };
    await this.deps.store.write([{ op: 'upsert', collection: CONSENTS_COLLECTION, key, value }]);
  }

  async covers(account: string, clientId: string, audience: string, scopes: readonly string[]): Promise<boolean> {
    const rec = await this.deps.store.get<unknown>(CONSENTS_COLLECTION, `${account}|${clientId}`);
    const allowed = apisOf(rec?.value).find((a) => a.audience === audience);
    return allowed !== undefined && scopes.every((s) => allowed.scopes.includes(s));
  }

  async list(account: string): Promise<Consent[]> {
    const records = await this.deps.store.list<Consent>(CONSENTS_COLLECTION, { prefix: `${account}|`, limit: 500 });
    return records.map((r) => ({ clientId: r.value.clientId, apis: apisOf(r.value), grantedAt: r.value.grantedAt }));
  }

  async revoke(account: string, clientId: string): Promise<void> {
    await this.deps.store
      .write([{ op: 'delete', collection: CONSENTS_COLLECTION, key: `${account}|${clientId}` }])
      .catch(() => undefined);
  }
}
