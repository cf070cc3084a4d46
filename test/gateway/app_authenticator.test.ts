import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRecordStore } from '../../src/adapters/index.js';
import { appGatewayAuthenticator, identityApiKeys } from '../../src/app/gateway_authenticator.js';
import { ManualClock, MemoryLogger, silentLogger, systemClock } from '../../src/core/index.js';
import { ApiKeyRegistry, RevocationList } from '../../src/identity/index.js';
import { call, gatewayConfig, startBackend, startGateway, type RunningGateway } from './support.js';

describe('app wiring: API-key routes verified by the identity key index', () => {
  let keys: ApiKeyRegistry;
  let revocations: RevocationList;
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let gw: RunningGateway;
  const section = {
    upstreams: [{ name: 'u', hosts: ['http://127.0.0.1:1'] }],
    routes: [
      {
        name: 'demo',
        pathPrefix: '/demo/',
        upstream: 'u',
        auth: { kind: 'api_key' as const, scopes: ['demo'] },
        limits: [{ name: 'per-key', key: ['api_key' as const], rate: 1, per: '1m', burst: 1 }],
      },
    ],
  };

  beforeAll(async () => {
    const store = new MemoryRecordStore({ clock: systemClock });
    revocations = new RevocationList({ store, clock: systemClock, logger: silentLogger, pageSize: 100 });
    await revocations.start();
    keys = await ApiKeyRegistry.open({
      store,
      clock: systemClock,
      logger: silentLogger,
      revocations,
      rotationOverlapMs: 60_000,
      refreshEveryMs: 60_000,
      lastUsedEveryMs: 60_000,
    });
    backend = await startBackend();
    section.upstreams[0]!.hosts = [backend.url];
    const authenticator = appGatewayAuthenticator({
      gateway: gatewayConfig(section),
      issuer: undefined,
      apiKeys: identityApiKeys({ apiKeys: keys }, 'gateway'),
      clock: systemClock,
      logger: silentLogger,
    });
    gw = await startGateway(section, { authenticator });
  });
  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  it('admits a key with scope demo, sends its id upstream, and limits per key', async () => {
    const { key, apiKey } = await keys.create({ name: 'demo', scopes: ['demo'], owner: 'alice' });
    const ok = await call(gw, '/demo/x', { headers: { 'x-api-key': key } });
    expect(ok.status).toBe(200);
    expect(ok.body.headers['x-gatehouse-key-id']).toBe(apiKey.id);
    expect(ok.body.headers['x-gatehouse-sub']).toBe('alice');
    expect(JSON.stringify(ok.body.headers)).not.toContain(key.slice(8)); // never echoed in identity headers
    const bearer = await call(gw, '/demo/x', { headers: { authorization: `Bearer ${key}` } });
    expect(bearer.status).toBe(200);
    expect(bearer.body.headers['authorization']).toBeUndefined();
    expect((await call(gw, '/demo/x', { headers: { 'x-api-key': key } })).status).toBe(429);
  });

  it('refuses keys without the scope (403), unknown keys (401) and revoked keys (401)', async () => {
    const weak = await keys.create({ name: 'weak', scopes: ['other'] });
    expect((await call(gw, '/demo/x', { headers: { 'x-api-key': weak.key } })).status).toBe(403);
    expect((await call(gw, '/demo/x', { headers: { 'x-api-key': 'ghk_unknown' } })).status).toBe(401);
    const gone = await keys.create({ name: 'gone', scopes: ['demo'] });
    await keys.revoke(gone.apiKey.id);
    const res = await call(gw, '/demo/x', { headers: { 'x-api-key': gone.key } });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_TOKEN_INVALID');
  });

  it('refuses a key restricted to other audiences', async () => {
    const other = await keys.create({ name: 'other', scopes: ['demo'], audiences: ['https://orders.example'] });
    expect(identityApiKeys({ apiKeys: keys }, 'gateway')(other.key)).toBeUndefined();
    expect(identityApiKeys({ apiKeys: keys }, 'https://orders.example')(other.key)?.apiKeyId).toBe(other.apiKey.id);
  });

  it('a JWT route without identity.issuer is a configuration error', () => {
    const jwt = gatewayConfig({ ...section, routes: [{ ...section.routes[0]!, auth: { kind: 'jwt' } }] });
    expect(() =>
      appGatewayAuthenticator({ gateway: jwt, issuer: undefined, clock: new ManualClock(0), logger: silentLogger }),
    ).toThrow(/identity.issuer/);
  });

  it('API-key routes without a key source refuse every key and say so at start', async () => {
    const logger = new MemoryLogger();
    const auth = appGatewayAuthenticator({
      gateway: gatewayConfig(section),
      issuer: undefined,
      clock: systemClock,
      logger,
    });
    expect(logger.lines.filter((l) => l['event'] === 'gateway_api_keys_unverifiable')).toHaveLength(1);
    const { key } = await keys.create({ name: 'unverifiable', scopes: ['demo'] });
    await expect(auth.authenticate({ 'x-api-key': key }, 'api_key')).rejects.toMatchObject({
      code: 'ERR_TOKEN_INVALID',
    });
  });

  it('JWT routes poll the revocation feed by default: no feed credential is a configuration error; off is logged', () => {
    const route = { ...section.routes[0]!, auth: { kind: 'jwt' as const } };
    const poll = gatewayConfig({ ...section, routes: [route] });
    expect(poll.revocation).toEqual({ mode: 'poll', interval: 5000, maxStaleness: 60_000 });
    const issuer = 'https://id.example';
    expect(() =>
      appGatewayAuthenticator({ gateway: poll, issuer, clock: new ManualClock(0), logger: silentLogger }),
    ).toThrow(/gateway\.credentials\.feedApiKey/);
    const tight = gatewayConfig({ ...section, routes: [route], revocation: { interval: '5s', maxStaleness: '5s' } });
    expect(() =>
      appGatewayAuthenticator({
        gateway: tight,
        issuer,
        feedCredential: async () => 'ghk_x',
        clock: new ManualClock(0),
        logger: silentLogger,
      }),
    ).toThrow(/maxStaleness/);
    const logger = new MemoryLogger();
    const off = gatewayConfig({ ...section, routes: [route], revocation: { mode: 'off' } });
    appGatewayAuthenticator({ gateway: off, issuer, clock: new ManualClock(0), logger });
    const warned = logger.lines.filter((l) => l['event'] === 'gateway_revocation_off');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 'warn', insecure: true });
    expect(warned[0]!.msg).toMatch(/^INSECURE/);
  });
});
