import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandaloneGateway, type RunningGatehouse } from '../../src/app/index.js';
import type { StandaloneGateway } from '../../src/app/gateway_standalone.js';
import { loadConfig } from '../../src/config/index.js';
import { MemoryLogger, systemClock } from '../../src/core/index.js';
import { trustingAgent, callJson, type CallInit } from '../support/https.js';
import { tempDir } from '../support/tmp.js';
import { adminApi, ordersApp, startTestGatehouse, type AdminApi } from '../support/up.js';
import { startBackend, testCertificate, type Json } from './support.js';

const AUDIENCE = 'https://gateway.test';

/**
 * A standalone gateway (`startStandaloneGateway`, what `gatehouse gateway` runs) in front of a real identity server
 * (an in-process `gatehouse up`): API keys by introspection, JWTs with revocations read from the feed.
 */
describe('a standalone gateway against a real identity server', () => {
  const tmp = tempDir();
  const logger = new MemoryLogger();
  let running: RunningGatehouse;
  let platform: Agent;
  let adminToken: string;
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let gateway: StandaloneGateway;
  let client: Agent;
  let orders: { clientId: string; basic: string };

  const call = (url: string, init: CallInit & { dispatcher?: Agent } = {}) =>
    callJson(init.dispatcher ?? platform, url, init);
  let admin: AdminApi;
  const viaGateway = (path: string, headers: Record<string, string>) =>
    call(`${gateway.url}${path}`, { headers, dispatcher: client });
  const apiKey = async (scope: string, extra: Record<string, unknown> = {}) =>
    (await admin('/v1/identity/api-keys', { name: `k-${scope.replace(/\W/g, '')}`, scope, ...extra })) as {
      id: string;
      key: string;
    };
  async function untilStatus(path: string, headers: Record<string, string>, status: number): Promise<Json> {
    const started = performance.now();
    let answer = await viaGateway(path, headers);
    while (answer.status !== status && performance.now() - started < 20_000) {
      await new Promise((r) => setTimeout(r, 50));
      answer = await viaGateway(path, headers);
    }
    return answer;
  }

  beforeAll(async () => {
    ({ running, adminToken } = await startTestGatehouse({ dataDir: join(tmp.dir, 'data'), demoMesh: true }));
    platform = trustingAgent(running.endpoints.trustBundle);
    admin = adminApi(platform, running.endpoints.admin, adminToken);
    orders = await ordersApp(admin, AUDIENCE);
    // The gateway's own client: a resource server for its audience (it may introspect keys and tokens for it).
    const gw = await admin('/v1/identity/clients', {
      name: 'gateway',
      grant_types: ['client_credentials'],
      audiences: [AUDIENCE],
      roles: ['resource-server'],
    });
    const feed = await apiKey('revocations:read');
    backend = await startBackend();
    const { certPem, keyPem } = testCertificate();
    const gatewayConfig = loadConfig({
      overrides: {
        listen: { host: '127.0.0.1', gateway: { port: 0 } },
        identity: { issuer: running.endpoints.identity },
        gateway: {
          jwtAudience: AUDIENCE,
          credentials: { clientId: gw.client_id, clientSecret: gw.client_secret, feedApiKey: feed.key },
          revocation: { interval: '200ms' },
          apiKeys: { cacheTtl: '2s', negativeCacheTtl: '500ms' },
          upstreams: [{ name: 'b', hosts: [backend.url] }],
          routes: [
            { name: 'keys', pathPrefix: '/keys/', upstream: 'b', auth: { kind: 'api_key', scopes: ['demo'] } },
            { name: 'jwt', pathPrefix: '/jwt/', upstream: 'b', auth: { kind: 'jwt', scopes: ['orders:read'] } },
          ],
        },
      },
    });
    gateway = await startStandaloneGateway({
      config: gatewayConfig,
      certPem,
      keyPem,
      issuerCaPem: readFileSync(running.endpoints.trustBundle, 'utf8'),
      clock: systemClock,
      logger,
    });
    client = new Agent({ connect: { ca: certPem, servername: 'localhost' } });
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    await client?.close();
    await backend?.close();
    await platform?.close();
    await running?.stop();
    tmp.remove();
  });

  it('admits an API key with the scope (its id upstream, the key itself never), refuses others', async () => {
    const demo = await apiKey('demo');
    const ok = await viaGateway('/keys/a', { 'x-api-key': demo.key });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.headers['x-gatehouse-key-id']).toBe(demo.id);
    expect(ok.body.headers['x-api-key']).toBeUndefined();
    expect(JSON.stringify(ok.body.headers)).not.toContain(demo.key);
    const bearer = await viaGateway('/keys/a', { authorization: `Bearer ${demo.key}` });
    expect(bearer.status).toBe(200);

    const weak = await apiKey('other');
    expect((await viaGateway('/keys/a', { 'x-api-key': weak.key })).status).toBe(403);
    const foreign = await apiKey('demo', { audiences: ['https://elsewhere.test'] });
    expect((await viaGateway('/keys/a', { 'x-api-key': foreign.key })).status).toBe(401);
    const unknown = await viaGateway('/keys/a', { 'x-api-key': `ghk_${'A'.repeat(49)}` });
    expect(unknown.status).toBe(401);
    expect(unknown.body.code).toBe('ERR_TOKEN_INVALID');
  });

  it('refuses a revoked API key within the documented staleness', async () => {
    const demo = await apiKey('demo');
    expect((await viaGateway('/keys/b', { 'x-api-key': demo.key })).status).toBe(200); // cached now
    await admin(`/v1/identity/api-keys/${demo.id}/revoke`);
    const revokedAt = performance.now();
    const answer = await untilStatus('/keys/b', { 'x-api-key': demo.key }, 401);
    expect(answer.status).toBe(401);
    console.info(
      `standalone gateway refused the revoked API key after ${Math.round(performance.now() - revokedAt)} ms`,
    );
  }, 30_000);

  it('without a feed (API-key routes only) a revoked key is refused once its cache entry expires', async () => {
    const { certPem, keyPem } = testCertificate();
    const gw = (await admin('/v1/identity/clients', {
      name: 'gateway-2',
      grant_types: ['client_credentials'],
      audiences: [AUDIENCE],
      roles: ['resource-server'],
    })) as { client_id: string; client_secret: string };
    const quiet = new MemoryLogger();
    const alone = await startStandaloneGateway({
      config: loadConfig({
        overrides: {
          listen: { host: '127.0.0.1', gateway: { port: 0 } },
          identity: { issuer: running.endpoints.identity },
          gateway: {
            jwtAudience: AUDIENCE,
            credentials: { clientId: gw.client_id, clientSecret: gw.client_secret },
            apiKeys: { cacheTtl: '1s' },
            upstreams: [{ name: 'b', hosts: [backend.url] }],
            routes: [{ name: 'keys', pathPrefix: '/', upstream: 'b', auth: { kind: 'api_key' } }],
          },
        },
      }),
      certPem,
      keyPem,
      issuerCaPem: readFileSync(running.endpoints.trustBundle, 'utf8'),
      clock: systemClock,
      logger: quiet,
    });
    try {
      const key = await apiKey('demo');
      const get = () => call(`${alone.url}/k`, { headers: { 'x-api-key': key.key }, dispatcher: client });
      expect((await get()).status).toBe(200);
      await admin(`/v1/identity/api-keys/${key.id}/revoke`);
      const started = performance.now();
      let status = 200;
      while (status === 200 && performance.now() - started < 20_000) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await get()).status;
      }
      expect(status).toBe(401);
      console.info(`refused ${Math.round(performance.now() - started)} ms after revocation (cacheTtl 1000 ms)`);
      // Introspection is the revocation check here: nothing is logged as insecure.
      expect(quiet.lines.filter((l) => l['insecure'] === true)).toEqual([]);
    } finally {
      await alone.close();
    }
  }, 30_000);

  it('admits a JWT and refuses it once revoked, read from the feed with the feed API key', async () => {
    const issued = await call(`${running.endpoints.identity}/oauth2/token`, {
      headers: { authorization: orders.basic },
      form: `grant_type=client_credentials&resource=${encodeURIComponent(AUDIENCE)}`,
    });
    expect(issued.status, JSON.stringify(issued.body)).toBe(200);
    const headers = { authorization: `Bearer ${issued.body.access_token}` };
    const ok = await viaGateway('/jwt/x', headers);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.headers['x-gatehouse-client-id']).toBe(orders.clientId);
    const revoke = await call(`${running.endpoints.identity}/oauth2/revoke`, {
      headers: { authorization: orders.basic },
      form: `token=${issued.body.access_token}`,
    });
    expect(revoke.status).toBe(200);
    const answer = await untilStatus('/jwt/x', headers, 401);
    expect(answer.status).toBe(401);
    expect(logger.lines.some((l) => l['event'] === 'revocation_poll_failed')).toBe(false);
  }, 30_000);
});
