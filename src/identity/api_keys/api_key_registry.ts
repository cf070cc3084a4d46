import { GatehouseError, prefixedId, type Clock, type Logger, type RecordStore } from '../../core/index.js';
import type { RevocationList } from '../revocation/revocation_list.js';
import { checkApiKeyRequest, type ApiKey, type ApiKeyRequest } from './api_key.js';
import { apiKeyDigest, newApiKey } from './api_key_format.js';
import { ApiKeyIndex } from './api_key_index.js';
import { LastUsedRecorder } from './last_used.js';

/** The collection of API keys (digests only), keyed by id. */
export const API_KEYS_COLLECTION = 'identity_api_keys';

/** How long after revocation (at most) a feed item for a key that never expires is kept: longer than any cache. */
const REVOKED_KEY_ITEM_TTL_MS = 3_600_000;

/** Options of {@link ApiKeyRegistry}. */
export interface ApiKeyRegistryOptions {
  store: RecordStore;
  clock: Clock;
  logger: Logger;
  revocations: RevocationList;
  /** How long the previous key keeps working after a rotation (default; a call may choose its own). */
  rotationOverlapMs: number;
  refreshEveryMs: number;
  lastUsedEveryMs: number;
}

/**
 * API keys: created with 256 random bits behind the `ghk_` prefix and a checksum, shown once, stored as SHA-256
 * digests. Optional expiry, scopes, owner and audiences; rotation keeps the previous key valid for an overlap;
 * revocation is stored in the revocation list (so the feed and push reach every verifier) and applies here at once.
 *
 * @example
 * const keys = await ApiKeyRegistry.open({ store, clock, logger, revocations, rotationOverlapMs, refreshEveryMs: 5000, lastUsedEveryMs: 60000 });
 * const { key, apiKey } = await keys.create({ name: 'demo', scopes: ['demo'] });
 * keys.index.verify(key)?.id === apiKey.id; // true
 */
export class ApiKeyRegistry {
  readonly index: ApiKeyIndex;
  readonly lastUsed: LastUsedRecorder;

  private constructor(private readonly options: ApiKeyRegistryOptions) {
    this.lastUsed = new LastUsedRecorder(options.store, options.lastUsedEveryMs, options.logger);
    this.index = new ApiKeyIndex({
      load: () => this.list(),
      clock: options.clock,
      logger: options.logger,
      lastUsed: this.lastUsed,
      refreshEveryMs: options.refreshEveryMs,
    });
    options.revocations.onRevoked((item) => {
      if (item.jti?.startsWith('ak_')) this.index.markRevoked(item.jti);
    });
  }

  /** Opens the registry and loads the index. */
  static async open(options: ApiKeyRegistryOptions): Promise<ApiKeyRegistry> {
    const registry = new ApiKeyRegistry(options);
    await registry.index.reload();
    return registry;
  }

  /** Creates a key; the returned `key` is the only time it is ever available. */
  async create(request: ApiKeyRequest): Promise<{ key: string; apiKey: ApiKey }> {
    checkApiKeyRequest(request);
    const now = this.options.clock.now();
    const key = newApiKey();
    const apiKey: ApiKey = {
      id: prefixedId('ak', 12),
      name: request.name,
      scopes: [...new Set(request.scopes)],
      owner: request.owner ?? null,
      audiences: [...(request.audiences ?? [])],
      digests: [{ digest: apiKeyDigest(key), createdAt: now, expiresAt: null }],
      createdAt: now,
      expiresAt: request.expiresInMs === undefined ? null : now + request.expiresInMs,
      revokedAt: null,
    };
    await this.options.store.write([{ op: 'insert', collection: API_KEYS_COLLECTION, key: apiKey.id, value: apiKey }]);
    this.index.put(apiKey);
    return { key, apiKey };
  }

  async get(id: string): Promise<ApiKey | undefined> {
    if (id.length === 0 || id.length > 64) return undefined;
    return (await this.options.store.get<ApiKey>(API_KEYS_COLLECTION, id))?.value;
  }

  async require(id: string): Promise<ApiKey> {
    const key = await this.get(id);
    if (!key) throw new GatehouseError('ERR_IDENTITY_API_KEY_NOT_FOUND');
    return key;
  }

  /** Every key (revoked ones included, until removed), in id order. */
  async list(): Promise<ApiKey[]> {
    const out: ApiKey[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.options.store.list<ApiKey>(API_KEYS_COLLECTION, {
        limit: 1000,
        ...(after === undefined ? {} : { after }),
      });
      for (const record of page) out.push(record.value);
      if (page.length < 1000) return out;
      after = page[page.length - 1]?.key;
    }
  }

  /** Revokes a key at once (idempotent for an already revoked key). */
  async revoke(id: string): Promise<ApiKey> {
    const record = await this.options.store.get<ApiKey>(API_KEYS_COLLECTION, id);
    if (!record) throw new GatehouseError('ERR_IDENTITY_API_KEY_NOT_FOUND');
    if (record.value.revokedAt !== null) return record.value;
    const now = this.options.clock.now();
    const revoked: ApiKey = { ...record.value, revokedAt: now };
    await this.options.store.write([
      { op: 'update', collection: API_KEYS_COLLECTION, key: id, value: revoked, expectVersion: record.version },
    ]);
    this.index.put(revoked);
    this.index.markRevoked(id);
    const until = Math.min(revoked.expiresAt ?? Number.POSITIVE_INFINITY, now + REVOKED_KEY_ITEM_TTL_MS);
    await this.options.revocations.revoke({ jti: id, exp: Math.ceil(until / 1000) });
    return revoked;
  }

  /** A new key for the same id; the previous one keeps working for `overlapMs` (0: stops at once). */
  async rotate(id: string, overlapMs = this.options.rotationOverlapMs): Promise<{ key: string; apiKey: ApiKey }> {
    if (!Number.isInteger(overlapMs) || overlapMs < 0 || overlapMs > 30 * 86_400_000) {
      throw new GatehouseError('ERR_IDENTITY_API_KEY_INVALID', { message: 'overlap must be between 0 and 30d' });
    }
    const record = await this.options.store.get<ApiKey>(API_KEYS_COLLECTION, id);
    if (!record) throw new GatehouseError('ERR_IDENTITY_API_KEY_NOT_FOUND');
    if (record.value.revokedAt !== null) {
      throw new GatehouseError('ERR_IDENTITY_API_KEY_INVALID', { message: 'a revoked key cannot be rotated' });
    }
    const now = this.options.clock.now();
    const key = newApiKey();
    const kept = record.value.digests
      .filter((d) => d.expiresAt === null || d.expiresAt > now)
      .map((d) => ({ ...d, expiresAt: Math.min(d.expiresAt ?? Number.POSITIVE_INFINITY, now + overlapMs) }))
      .filter((d) => d.expiresAt > now);
    const apiKey: ApiKey = {
      ...record.value,
      digests: [{ digest: apiKeyDigest(key), createdAt: now, expiresAt: null }, ...kept],
    };
    await this.options.store.write([
      { op: 'update', collection: API_KEYS_COLLECTION, key: id, value: apiKey, expectVersion: record.version },
    ]);
    this.index.put(apiKey);
    return { key, apiKey };
  }
}
