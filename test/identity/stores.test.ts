import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { ApiRegistry, ClientRegistry, secretMatches } from '../../src/identity/index.js';
import { recordStoreFactories } from '../support/stores.js';
import { basic, ccClient, identityHarness } from './harness.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const factories = recordStoreFactories(cleanups, { tmpPrefix: 'gh-identity-' });

describe.each(factories)('client and API stores on %s', (_name, factory) => {
  it('round-trips APIs and clients, refuses duplicates and unknown scopes, rotates and deletes', async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const store = await factory(clock);
    cleanups.push(() => store.close());
    const apis = new ApiRegistry({ store, clock });
    await apis.create('https://a.example', [{ name: 'a:read', description: 'read a' }]);
    await expect(apis.create('https://a.example', [])).rejects.toMatchObject({ code: 'ERR_IDENTITY_API_EXISTS' });
    await expect(apis.create('not a uri', [])).rejects.toMatchObject({ code: 'ERR_IDENTITY_API_INVALID' });
    const clients = new ClientRegistry({
      store,
      clock,
      apis,
      cacheTtlMs: 1000,
      secretOverlapMs: 60_000,
      maxAccessTokenTtlMs: 86_400_000,
    });
    await expect(
      clients.create({ name: 'x', grantTypes: ['client_credentials'], scopes: ['b:write'] }),
    ).rejects.toMatchObject({ code: 'ERR_IDENTITY_CLIENT_INVALID' });
    await expect(
      clients.create({ name: 'x', grantTypes: ['implicit'], scopes: [], redirectUris: ['https://x.example/cb'] }),
    ).rejects.toMatchObject({ code: 'ERR_IDENTITY_CLIENT_INVALID' });
    const { client, secret } = await clients.create({
      name: 'svc',
      grantTypes: ['client_credentials'],
      scopes: ['a:read'],
    });
    expect(secret).toMatch(/^ghcs_[A-Za-z0-9_-]{43}$/);
    expect(client.audiences).toEqual(['https://a.example']);
    const stored = await clients.get(client.clientId);
    expect(JSON.stringify(stored)).not.toContain(secret as string);
    expect(secretMatches(stored.secrets, secret as string, clock.now())).toBe(true);
    const rotated = await clients.rotateSecret(client.clientId);
    expect(rotated.client.secrets).toHaveLength(2);
    expect((await clients.list()).map((c) => c.clientId)).toEqual([client.clientId]);
    await clients.delete(client.clientId);
    await expect(clients.get(client.clientId)).rejects.toMatchObject({ code: 'ERR_IDENTITY_CLIENT_NOT_FOUND' });
    const publicClient = await clients.create({
      name: 'spa',
      public: true,
      grantTypes: ['authorization_code'],
      scopes: ['a:read'],
      redirectUris: ['http://127.0.0.1:3000/cb'],
    });
    expect(publicClient.secret).toBeUndefined();
    expect(publicClient.client.authMethod).toBe('none');
  });
});

describe('identity on SQLite end to end', () => {
  it('issues tokens from a SQLite-backed registry and keys', async () => {
    const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
    const store = await factories[1]![1](clock);
    cleanups.push(() => store.close());
    const h = await identityHarness({}, { store, clock });
    cleanups.push(() => h.close());
    const c = await ccClient(h);
    const res = await h.token('grant_type=client_credentials', { authorization: basic(c.clientId, c.secret) });
    expect(res.status).toBe(200);
  });
});
