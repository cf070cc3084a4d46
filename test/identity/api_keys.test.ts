import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRecordStore } from '../../src/adapters/index.js';
import { ManualClock, MemoryLogger, type RecordStore } from '../../src/core/index.js';
import {
  API_KEY_LAST_USED_COLLECTION,
  API_KEY_LENGTH,
  ApiKeyRegistry,
  IDENTITY_API_KEY_PREFIX,
  RevocationList,
  apiKeyDigest,
  isWellFormedApiKey,
  newApiKey,
} from '../../src/identity/index.js';
import {
  API_KEY_PREFIX,
  API_KEY_LENGTH as VERIFIER_API_KEY_LENGTH,
  isApiKey,
  isWellFormedApiKey as verifierAcceptsShape,
} from '../../src/resource/index.js';
import { basic, client, ORDERS, revocationHarness, type RevocationHarness } from './revocation_harness.js';

/** A store that counts reads, to show that checksum failures never reach it. */
class CountingStore extends MemoryRecordStore {
  reads = 0;
  override async get<T>(collection: string, key: string) {
    this.reads++;
    return super.get<T>(collection, key);
  }
  override async list<T>(collection: string, options?: Parameters<RecordStore['list']>[1]) {
    this.reads++;
    return super.list<T>(collection, options);
  }
}

async function registry(clock: ManualClock, store: RecordStore = new MemoryRecordStore({ clock })) {
  const logger = new MemoryLogger();
  const revocations = new RevocationList({ store, clock, logger, pageSize: 100 });
  await revocations.start();
  const keys = await ApiKeyRegistry.open({
    store,
    clock,
    logger,
    revocations,
    rotationOverlapMs: 3_600_000,
    refreshEveryMs: 5_000,
    lastUsedEveryMs: 60_000,
  });
  return { keys, revocations, store, logger };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('API key format', () => {
  it('ghk_ prefix shared with the verifier, 256 random bits, a checksum that catches every single-character change', () => {
    expect(IDENTITY_API_KEY_PREFIX).toBe(API_KEY_PREFIX);
    const key = newApiKey();
    expect(key).toHaveLength(API_KEY_LENGTH);
    expect(key.startsWith('ghk_')).toBe(true);
    expect(Buffer.from(key.slice(4, 47), 'base64url')).toHaveLength(32);
    expect(isWellFormedApiKey(key)).toBe(true);
    expect(isApiKey(key)).toBe(true);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 4; i < key.length; i++) {
      const swapped = alphabet[(alphabet.indexOf(key[i] as string) + 1) % 64] as string;
      expect(isWellFormedApiKey(key.slice(0, i) + swapped + key.slice(i + 1))).toBe(false);
      // The verifier's copy of the check (resource may not import identity) agrees.
      expect(verifierAcceptsShape(key.slice(0, i) + swapped + key.slice(i + 1))).toBe(false);
    }
    expect(VERIFIER_API_KEY_LENGTH).toBe(API_KEY_LENGTH);
    for (let i = 0; i < 50; i++) expect(verifierAcceptsShape(newApiKey())).toBe(true);
    expect(verifierAcceptsShape(key.slice(0, -1))).toBe(false);
    expect(isWellFormedApiKey(key.slice(0, -1))).toBe(false);
    expect(isWellFormedApiKey(`ghx_${key.slice(4)}`)).toBe(false);
    expect(new Set(Array.from({ length: 100 }, () => newApiKey())).size).toBe(100);
    expect(apiKeyDigest(key)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('API key lifecycle', () => {
  let h: RevocationHarness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('stores only the SHA-256 digest; malformed keys are refused before any lookup', async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const store = new CountingStore({ clock });
    const { keys } = await registry(clock, store);
    const { key, apiKey } = await keys.create({ name: 'demo', scopes: ['demo'] });
    const stored = JSON.stringify(await store.list('identity_api_keys'));
    expect(stored).not.toContain(key);
    expect(stored).toContain(apiKeyDigest(key));
    expect(keys.index.verify(key)?.id).toBe(apiKey.id);
    const before = store.reads;
    expect(keys.index.verify(`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    expect(keys.index.verify('ghk_short')).toBeUndefined();
    expect(keys.index.verify(newApiKey())).toBeUndefined(); // well formed but unknown: an in-memory miss
    expect(store.reads).toBe(before);
  });

  it('expiry: usable just before, refused at and after', async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const { keys } = await registry(clock);
    const { key } = await keys.create({ name: 'short', scopes: [], expiresInMs: 30 * 86_400_000 });
    clock.advance(30 * 86_400_000 - 1);
    expect(keys.index.verify(key)).toBeDefined();
    clock.advance(1);
    expect(keys.index.verify(key)).toBeUndefined();
  });

  it('rotation keeps the previous key valid for the overlap only; both share the id', async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const { keys } = await registry(clock);
    const first = await keys.create({ name: 'svc', scopes: ['a'] });
    const second = await keys.rotate(first.apiKey.id, 600_000);
    expect(second.key).not.toBe(first.key);
    expect(keys.index.verify(first.key)?.id).toBe(first.apiKey.id);
    expect(keys.index.verify(second.key)?.id).toBe(first.apiKey.id);
    clock.advance(600_000 - 1);
    expect(keys.index.verify(first.key)).toBeDefined();
    clock.advance(1);
    expect(keys.index.verify(first.key)).toBeUndefined();
    expect(keys.index.verify(second.key)).toBeDefined();
    // overlap 0: the old key stops at once
    const third = await keys.rotate(first.apiKey.id, 0);
    expect(keys.index.verify(second.key)).toBeUndefined();
    expect(keys.index.verify(third.key)).toBeDefined();
    await expect(keys.rotate(first.apiKey.id, -1)).rejects.toMatchObject({ code: 'ERR_IDENTITY_API_KEY_INVALID' });
    await expect(keys.rotate('ak_missing')).rejects.toMatchObject({ code: 'ERR_IDENTITY_API_KEY_NOT_FOUND' });
  });

  it('revocation takes effect at once, here and on another replica through the stored list', async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const store = new MemoryRecordStore({ clock });
    const a = await registry(clock, store);
    const { key, apiKey } = await a.keys.create({ name: 'svc', scopes: ['a'] });
    const b = await registry(clock, store); // a second replica on the same store
    expect(b.keys.index.verify(key)?.id).toBe(apiKey.id);
    await a.keys.revoke(apiKey.id);
    expect(a.keys.index.verify(key)).toBeUndefined();
    await b.revocations.refresh();
    expect(b.keys.index.verify(key)).toBeUndefined();
    await expect(a.keys.rotate(apiKey.id)).rejects.toMatchObject({ code: 'ERR_IDENTITY_API_KEY_INVALID' });
    const items = await a.revocations.page(undefined);
    expect(items.items).toEqual([{ jti: apiKey.id, exp: expect.any(Number) }]);
  });

  it('last-used time is written asynchronously, at most once a minute per key', async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const store = new CountingStore({ clock });
    const { keys } = await registry(clock, store);
    const { key, apiKey } = await keys.create({ name: 'svc', scopes: [] });
    const writes: number[] = [];
    const write = store.write.bind(store);
    store.write = async (ops) => {
      if (ops.some((o) => o.collection === API_KEY_LAST_USED_COLLECTION)) writes.push(clock.now());
      return write(ops);
    };
    const start = clock.now();
    for (let i = 0; i < 130; i++) {
      expect(keys.index.verify(key)).toBeDefined();
      clock.advance(1000);
    }
    await flush();
    expect(writes).toEqual([start, start + 60_000, start + 120_000]);
    expect(await keys.lastUsed.get(apiKey.id)).toBe(start + 120_000);
  });

  it('request validation: scopes, name, expiry', async () => {
    const clock = new ManualClock(0);
    const { keys } = await registry(clock);
    await expect(keys.create({ name: '', scopes: [] })).rejects.toMatchObject({ code: 'ERR_IDENTITY_API_KEY_INVALID' });
    await expect(keys.create({ name: 'x', scopes: ['bad scope'] })).rejects.toMatchObject({
      code: 'ERR_IDENTITY_API_KEY_INVALID',
    });
    await expect(keys.create({ name: 'x', scopes: [], expiresInMs: 0 })).rejects.toMatchObject({
      code: 'ERR_IDENTITY_API_KEY_INVALID',
    });
    // beyond ten years (`--expires-in 999999y` made a date JavaScript cannot print); no expiry stays possible
    await expect(keys.create({ name: 'x', scopes: [], expiresInMs: 3651 * 86_400_000 })).rejects.toMatchObject({
      code: 'ERR_IDENTITY_API_KEY_INVALID',
      message: expect.stringMatching(/at most 3650d/),
    });
    await expect(keys.create({ name: 'x', scopes: [], expiresInMs: 3650 * 86_400_000 })).resolves.toBeDefined();
  });

  it('introspection of API keys: owner and resource servers only; revoked, expired and unknown keys are inactive', async () => {
    h = await revocationHarness();
    const owner = await client(h, 'owner');
    const rs = await client(h, 'rs', { audiences: [ORDERS], roles: ['resource-server'] });
    const stranger = await client(h, 'stranger');
    const { key, apiKey } = await h.identity.apiKeys.create({
      name: 'svc',
      scopes: ['orders:read', 'demo'],
      owner: owner.clientId,
      expiresInMs: 3_600_000,
    });
    const byOwner = await h.post('/oauth2/introspect', { token: key }, basic(owner.clientId, owner.secret));
    expect(byOwner.json).toMatchObject({
      active: true,
      token_type: 'api_key',
      scope: 'orders:read demo',
      key_id: apiKey.id,
      jti: apiKey.id,
      sub: owner.clientId,
    });
    expect((await h.post('/oauth2/introspect', { token: key }, basic(rs.clientId, rs.secret))).json.active).toBe(true);
    expect((await h.post('/oauth2/introspect', { token: key }, basic(stranger.clientId, stranger.secret))).body).toBe(
      '{"active":false}',
    );
    // RFC 7009 by its owner
    expect((await h.post('/oauth2/revoke', { token: key }, basic(stranger.clientId, stranger.secret))).status).toBe(
      200,
    );
    expect(h.identity.apiKeys.index.verify(key)).toBeDefined();
    expect((await h.post('/oauth2/revoke', { token: key }, basic(owner.clientId, owner.secret))).status).toBe(200);
    expect((await h.post('/oauth2/introspect', { token: key }, basic(owner.clientId, owner.secret))).body).toBe(
      '{"active":false}',
    );
    const other = await h.identity.apiKeys.create({ name: 'x', scopes: [], expiresInMs: 1000 });
    h.clock.advance(1000);
    expect((await h.post('/oauth2/introspect', { token: other.key }, basic(rs.clientId, rs.secret))).body).toBe(
      '{"active":false}',
    );
    expect(JSON.stringify(h.logger.lines)).not.toContain(key);
  });
});
