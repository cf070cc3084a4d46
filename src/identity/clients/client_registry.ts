import { GatehouseError, prefixedId, type Clock, type RecordStore } from '../../core/index.js';
import { verificationKeyFromJwk } from '../../crypto/index.js';
import type { ApiRegistry } from '../apis/api_registry.js';
import type { Client, ClientJwk, ClientRegistration } from './client.js';
import { ClientCache } from './client_cache.js';
import { ClientSpiffeIndex } from './client_spiffe_index.js';
import { checkRegistration } from './client_rules.js';
import { newClientSecret } from './client_secret.js';

/** The longest a replaced secret keeps working (the same bound as an API key's rotation overlap). */
const MAX_OVERLAP_MS = 30 * 86_400_000;
/** The collection of registered clients, keyed by client_id. */
export const CLIENTS_COLLECTION = 'identity_clients';

function checkJwks(jwks: { keys: ClientJwk[] } | undefined): void {
  if (jwks === undefined) return;
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0 || jwks.keys.length > 10) {
    throw new GatehouseError('ERR_IDENTITY_CLIENT_INVALID', { message: 'jwks must hold 1-10 keys' });
  }
  for (const key of jwks.keys) {
    try {
      verificationKeyFromJwk(key);
    } catch {
      throw new GatehouseError('ERR_IDENTITY_CLIENT_INVALID', {
        message: 'jwks must hold public ES256, EdDSA or RS256 keys, each with kid and alg (no private members)',
      });
    }
  }
}

/**
 * The client registry on the RecordStore port, with the in-memory cache the token endpoint reads. Every change made
 * here invalidates the cache entry (and the SPIFFE ID index) at once; other replicas see it within the cache TTL.
 *
 * @example
 * const clients = new ClientRegistry({ store, clock, apis, cacheTtlMs: 5000, secretOverlapMs: 86_400_000, maxTtlMs });
 * const { client, secret } = await clients.create({ name: 'billing', grantTypes: ['client_credentials'], scopes: [] });
 */
export class ClientRegistry {
  readonly cache: ClientCache;
  /** Clients by the workload SPIFFE IDs they hold (callers authenticated by an X.509-SVID). */
  readonly bySpiffeId: ClientSpiffeIndex;

  constructor(
    private readonly deps: {
      store: RecordStore;
      clock: Clock;
      apis: ApiRegistry;
      cacheTtlMs: number;
      secretOverlapMs: number;
      maxAccessTokenTtlMs: number;
      /** The platform trust domain: client SPIFFE IDs must be workload IDs in it (refused when unset). */
      trustDomain?: string;
    },
  ) {
    this.cache = new ClientCache({
      clock: deps.clock,
      ttlMs: deps.cacheTtlMs,
      load: async (id) => (await deps.store.get<Client>(CLIENTS_COLLECTION, id))?.value,
    });
    this.bySpiffeId = new ClientSpiffeIndex({ clock: deps.clock, ttlMs: deps.cacheTtlMs, load: () => this.list() });
  }

  /** Registers a client; confidential clients using a secret get one, returned here and never again. */
  async create(reg: ClientRegistration): Promise<{ client: Client; secret?: string }> {
    const checked = checkRegistration(reg, await this.deps.apis.list(), this.deps.trustDomain);
    checkJwks(reg.jwks);
    if (reg.accessTokenTtlMs !== undefined) this.checkTtl(reg.accessTokenTtlMs);
    const now = this.deps.clock.now();
    const usesSecret = checked.authMethod === 'client_secret_basic' || checked.authMethod === 'client_secret_post';
    const fresh = usesSecret ? newClientSecret() : undefined;
    const client: Client = {
      // A readable prefix, and never a leading '-' (which a CLI would take for an option).
      clientId: prefixedId('ghc', 16),
      ...checked,
      ...(reg.jwks ? { jwks: { keys: reg.jwks.keys } } : {}),
      ...(reg.accessTokenTtlMs === undefined ? {} : { accessTokenTtlMs: reg.accessTokenTtlMs }),
      secrets: fresh ? [{ digest: fresh.digest, createdAt: now, expiresAt: null }] : [],
      createdAt: now,
      updatedAt: now,
    };
    await this.deps.store.write([
      { op: 'insert', collection: CLIENTS_COLLECTION, key: client.clientId, value: client },
    ]);
    if (client.spiffeIds !== undefined) this.bySpiffeId.invalidate();
    return fresh ? { client, secret: fresh.secret } : { client };
  }

  async get(clientId: string): Promise<Client> {
    const rec = await this.deps.store.get<Client>(CLIENTS_COLLECTION, clientId);
    if (!rec) throw new GatehouseError('ERR_IDENTITY_CLIENT_NOT_FOUND');
    return rec.value;
  }

  async list(): Promise<Client[]> {
    const out: Client[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.deps.store.list<Client>(CLIENTS_COLLECTION, { limit: 500, ...(after ? { after } : {}) });
      out.push(...page.map((r) => r.value));
      if (page.length < 500) return out;
      after = page[page.length - 1]?.key;
    }
  }

  /**
   * A new secret; the current ones stay valid for the overlap (`overlapMs`, default the configured one, at most 30
   * days as for API keys) and are then refused. Secrets that had already expired are dropped.
   */
  async rotateSecret(
    clientId: string,
    overlapMs = this.deps.secretOverlapMs,
  ): Promise<{ client: Client; secret: string }> {
    if (!Number.isInteger(overlapMs) || overlapMs < 0 || overlapMs > MAX_OVERLAP_MS) {
      throw new GatehouseError('ERR_IDENTITY_CLIENT_INVALID', { message: 'overlap must be between 0 and 30d' });
    }
    const rec = await this.deps.store.get<Client>(CLIENTS_COLLECTION, clientId);
    if (!rec) throw new GatehouseError('ERR_IDENTITY_CLIENT_NOT_FOUND');
    const client = rec.value;
    if (client.authMethod !== 'client_secret_basic' && client.authMethod !== 'client_secret_post') {
      throw new GatehouseError('ERR_IDENTITY_CLIENT_INVALID', { message: 'this client does not use a secret' });
    }
    const now = this.deps.clock.now();
    const fresh = newClientSecret();
    const kept = client.secrets
      .filter((s) => s.expiresAt === null || s.expiresAt > now)
      .map((s) => ({ ...s, expiresAt: Math.min(s.expiresAt ?? Infinity, now + overlapMs) }));
    const updated: Client = {
      ...client,
      secrets: [...kept, { digest: fresh.digest, createdAt: now, expiresAt: null }],
      updatedAt: now,
    };
    await this.deps.store.write([
      { op: 'update', collection: CLIENTS_COLLECTION, key: clientId, value: updated, expectVersion: rec.version },
    ]);
    this.cache.invalidate(clientId);
    return { client: updated, secret: fresh.secret };
  }

  async delete(clientId: string): Promise<void> {
    await this.get(clientId);
    await this.deps.store.write([{ op: 'delete', collection: CLIENTS_COLLECTION, key: clientId }]);
    this.cache.invalidate(clientId);
    this.bySpiffeId.invalidate();
  }

  private checkTtl(ttlMs: number): void {
    if (!Number.isInteger(ttlMs) || ttlMs < 1000 || ttlMs > this.deps.maxAccessTokenTtlMs) {
      throw new GatehouseError('ERR_IDENTITY_CLIENT_INVALID', {
        message: `access token TTL must be between 1s and identity.maxAccessTokenTtl`,
      });
    }
  }
}
