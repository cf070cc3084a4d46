import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandaloneGateway, type RunningGatehouse } from '../../src/app/index.js';
import type { StandaloneGateway } from '../../src/app/gateway_standalone.js';
import { configSchema, loadConfig } from '../../src/config/index.js';
import { MemoryLogger, systemClock } from '../../src/core/index.js';
import { CLI, exitOf } from '../support/cli.js';
import { callJson, trustingAgent, type CallInit } from '../support/https.js';
import { tempDir } from '../support/tmp.js';
import { adminApi, clientCredentialsToken, ordersApp, startTestGatehouse, type AdminApi } from '../support/up.js';
import { startBackend, testCertificate } from './support.js';

const AUDIENCE = 'https://gateway.test';

/** A JWT route to `upstream` requiring scope orders:read. */
const jwtRoute = (upstream: string) => ({
  name: 'orders',
  pathPrefix: '/orders/',
  upstream,
  auth: { kind: 'jwt' as const, scopes: ['orders:read'] },
});

/**
 * Hot reload adding the first JWT route (issue 7): the verifier the route needs is built and started (JWKS fetched,
 * revocation feed read) before the route is swapped in, in the gateway of `gatehouse up`, in a standalone gateway
 * (in process and through the CLI's SIGHUP), and the reload is refused, keeping the running routes, when the verifier
 * cannot be built.
 */
describe('a reload adding the first JWT route builds its verifier first', () => {
  const tmp = tempDir();
  const logger = new MemoryLogger();
  let running: RunningGatehouse;
  let platform: Agent;
  let adminToken: string;
  let basic: string;
  let feedKey: string;
  let issuerCaPem: string;
  let backend: Awaited<ReturnType<typeof startBackend>>;
  const tls = testCertificate();
  let client: Agent;

  const call = (url: string, init: CallInit & { dispatcher?: Agent } = {}) =>
    callJson(init.dispatcher ?? platform, url, init);
  let admin: AdminApi;
  const token = () => clientCredentialsToken(platform, running.endpoints.identity, basic, AUDIENCE);
  /** The same token with another signature. */
  const forged = (jwt: string) => {
    const [header, payload] = jwt.split('.');
    return `${header}.${payload}.${Buffer.alloc(64, 7).toString('base64url')}`;
  };
  const bearer = (jwt: string) => ({ authorization: `Bearer ${jwt}` });
  /** A standalone gateway section: the public route, plus `extra`. */
  const standaloneSection = (extra: Record<string, unknown> = {}, routes: unknown[] = []) => ({
    jwtAudience: AUDIENCE,
    revocation: { interval: '500ms' },
    upstreams: [{ name: 'b', hosts: [backend.url] }],
    routes: [{ name: 'public', pathPrefix: '/public/', upstream: 'b' }, ...routes],
    ...extra,
  });
  /** The standalone section with the JWT route and the feed key. */
  const jwtSectionWithFeed = () =>
    configSchema.parse({ gateway: standaloneSection({ credentials: { feedApiKey: feedKey } }, [jwtRoute('b')]) })
      .gateway;
  const startAlone = (issuer: string | undefined, gateway: Record<string, unknown>) =>
    startStandaloneGateway({
      config: loadConfig({
        overrides: {
          listen: { host: '127.0.0.1', gateway: { port: 0 } },
          ...(issuer === undefined ? {} : { identity: { issuer } }),
          gateway,
        },
      }),
      certPem: tls.certPem,
      keyPem: tls.keyPem,
      issuerCaPem,
      clock: systemClock,
      logger,
    });
  const via = (gateway: { url: string }, path: string, headers: Record<string, string> = {}) =>
    call(`${gateway.url}${path}`, { headers, dispatcher: client });

  beforeAll(async () => {
    ({
      running,
      bundlePem: issuerCaPem,
      adminToken,
    } = await startTestGatehouse({ dataDir: join(tmp.dir, 'data'), logger }));
    platform = trustingAgent(running.endpoints.trustBundle);
    admin = adminApi(platform, running.endpoints.admin, adminToken, 201);
    ({ basic } = await ordersApp(admin, AUDIENCE));
    feedKey = (await admin('/v1/identity/api-keys', { name: 'feed', scope: 'revocations:read' })).key as string;
    backend = await startBackend();
    client = new Agent({ connect: { ca: tls.certPem, servername: 'localhost' } });
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await backend?.close();
    await platform?.close();
    await running?.stop();
    tmp.remove();
  });

  it('gatehouse up: its gateway, started without JWT routes, admits a valid token after the reload (401 forged)', async () => {
    const gateway = { url: running.endpoints.gateway };
    const section = configSchema.parse({
      gateway: { jwtAudience: AUDIENCE, routes: [jwtRoute('demo')] },
    }).gateway;
    const jwt = await token();
    expect((await call(`${gateway.url}/orders/1`, { headers: bearer(jwt) })).status).toBe(404);
    await running.reloadGateway(section);
    const ok = await call(`${gateway.url}/orders/1`, { headers: bearer(jwt) });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.sub).toMatch(/^ghc_/); // the demo backend saw the verified identity
    const bad = await call(`${gateway.url}/orders/1`, { headers: bearer(forged(jwt)) });
    expect(bad.status).toBe(401);
    expect(bad.body.code).toBe('ERR_TOKEN_INVALID');
    expect((await call(`${gateway.url}/demo/x`)).status).toBe(401); // the demo route is kept
    expect(logger.lines.filter((l) => l['event'] === 'gateway_capabilities_added')).toMatchObject([
      { verifier: true, mesh: false },
    ]);
  });

  it('a standalone gateway refuses the reload while the JWT route cannot be verified, then builds the verifier', async () => {
    const gateway: StandaloneGateway = await startAlone(running.endpoints.identity, standaloneSection());
    try {
      const jwt = await token();
      // No feed credential: refused, naming it; the running routes stay.
      const noFeed = configSchema.parse({ gateway: standaloneSection({}, [jwtRoute('b')]) }).gateway;
      await expect(gateway.reload(noFeed)).rejects.toMatchObject({
        code: 'ERR_CONFIG_INVALID',
        message: expect.stringContaining('gateway.credentials.feedApiKey'),
      });
      expect((await via(gateway, '/public/1')).status).toBe(200);
      expect((await via(gateway, '/orders/1', bearer(jwt))).status).toBe(404);

      const withFeed = jwtSectionWithFeed();
      await gateway.reload(withFeed);
      const ok = await via(gateway, '/orders/1', bearer(jwt));
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body.headers['x-gatehouse-sub']).toMatch(/^ghc_/);
      expect((await via(gateway, '/orders/1', bearer(forged(jwt)))).status).toBe(401);
      expect((await via(gateway, '/orders/1')).status).toBe(401);
      expect((await via(gateway, '/public/2')).status).toBe(200);
      // Reloading again keeps the running verifier (nothing more to build).
      await gateway.reload(withFeed);
      expect((await via(gateway, '/orders/2', bearer(jwt))).status).toBe(200);
    } finally {
      await gateway.close();
    }
  });

  it('a standalone gateway rebuilds its verifier when a reload changes jwtAudience or the feed key, and keeps it when that fails', async () => {
    const OTHER = 'https://gateway-two.test';
    await admin('/v1/identity/apis', { audience: OTHER, scopes: [{ name: 'orders:read', description: 'read' }] });
    const app = await admin('/v1/identity/clients', {
      name: 'two-audiences',
      grant_types: ['client_credentials'],
      scope: 'orders:read',
      audiences: [AUDIENCE, OTHER],
    });
    const twoBasic = `Basic ${Buffer.from(`${app.client_id}:${app.client_secret}`).toString('base64')}`;
    const forAudience = (aud: string) => clientCredentialsToken(platform, running.endpoints.identity, twoBasic, aud);
    const section = (extra: Record<string, unknown>) =>
      configSchema.parse({
        gateway: standaloneSection({ credentials: { feedApiKey: feedKey }, ...extra }, [jwtRoute('b')]),
      }).gateway;
    const gateway = await startAlone(running.endpoints.identity, section({}));
    try {
      const first = await forAudience(AUDIENCE);
      const second = await forAudience(OTHER);
      expect((await via(gateway, '/orders/1', bearer(first))).status).toBe(200);
      expect((await via(gateway, '/orders/1', bearer(second))).status).toBe(401);

      await gateway.reload(section({ jwtAudience: OTHER }));
      expect((await via(gateway, '/orders/2', bearer(second))).status).toBe(200);
      expect((await via(gateway, '/orders/2', bearer(first))).status).toBe(401); // cached before, refused now

      // A feed key the issuer refuses: the new verifier cannot start, the reload is refused, the running one stays.
      const refusedKey = section({ jwtAudience: AUDIENCE, credentials: { feedApiKey: 'ghk_not_a_real_key' } });
      await expect(gateway.reload(refusedKey)).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
      expect((await via(gateway, '/orders/3', bearer(second))).status).toBe(200);
      expect((await via(gateway, '/orders/3', bearer(first))).status).toBe(401);
    } finally {
      await gateway.close();
    }
  });

  it('a standalone gateway takes identity.issuer and its CA from the reload: a JWT route then works, an issuer that does not answer is refused', async () => {
    const jwtSection = jwtSectionWithFeed();
    const gateway = await startAlone(undefined, standaloneSection());
    try {
      await gateway.reload(jwtSection, { issuer: running.endpoints.identity, trustBundlePem: issuerCaPem });
      const jwt = await token();
      expect((await via(gateway, '/orders/1', bearer(jwt))).status).toBe(200);
      // Another issuer that does not answer: refused, the running verifier (and its issuer) stays.
      await expect(
        gateway.reload(jwtSection, { issuer: 'https://127.0.0.1:1', trustBundlePem: issuerCaPem }),
      ).rejects.toMatchObject({
        code: 'ERR_CONFIG_INVALID',
        message: expect.stringContaining('https://127.0.0.1:1'),
      });
      expect((await via(gateway, '/orders/2', bearer(jwt))).status).toBe(200);
      // The same issuer again: nothing to rebuild.
      await gateway.reload(jwtSection, { issuer: running.endpoints.identity, trustBundlePem: issuerCaPem });
      expect((await via(gateway, '/orders/3', bearer(jwt))).status).toBe(200);
    } finally {
      await gateway.close();
    }
  });

  it('a standalone gateway without identity.issuer, or whose issuer does not answer, refuses the reload', async () => {
    const jwtSection = jwtSectionWithFeed();
    const noIssuer = await startAlone(undefined, standaloneSection());
    const silent = await startAlone('https://127.0.0.1:1', standaloneSection());
    try {
      await expect(noIssuer.reload(jwtSection)).rejects.toMatchObject({
        code: 'ERR_CONFIG_INVALID',
        message: expect.stringContaining('identity.issuer'),
      });
      expect((await via(noIssuer, '/public/1')).status).toBe(200);
      await expect(silent.reload(jwtSection)).rejects.toMatchObject({
        code: 'ERR_CONFIG_INVALID',
        message: expect.stringContaining('the token verifier for this section could not start'),
      });
      expect((await via(silent, '/public/1')).status).toBe(200);
      expect((await via(silent, '/orders/1', bearer(await token()))).status).toBe(404);
    } finally {
      await noIssuer.close();
      await silent.close();
    }
  });

  it('gatehouse gateway (CLI): SIGHUP adding a JWT route reads the feed key file and admits a valid token', async () => {
    const cert = join(tmp.dir, 'cert.pem');
    const key = join(tmp.dir, 'key.pem');
    const issuerCa = join(tmp.dir, 'issuer-ca.pem');
    const feedFile = join(tmp.dir, 'feed.key');
    const config = join(tmp.dir, 'gateway.json');
    writeFileSync(cert, tls.certPem);
    writeFileSync(key, tls.keyPem, { mode: 0o600 });
    writeFileSync(issuerCa, issuerCaPem);
    writeFileSync(feedFile, `${feedKey}\n`, { mode: 0o600 });
    const file = (extra: Record<string, unknown>, routes: unknown[]) => ({
      log: { level: 'info' },
      listen: { host: '127.0.0.1', gateway: { port: 0 } },
      identity: { issuer: running.endpoints.identity },
      gateway: standaloneSection(extra, routes),
    });
    writeFileSync(config, JSON.stringify(file({}, [])));
    const child = spawn(
      process.execPath,
      [CLI, 'gateway', '--config', config, '--cert', cert, '--key', key, '--issuer-ca', issuerCa],
      { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const waitFor = async (pattern: RegExp, times = 1) => {
      for (let i = 0; i < 600 && (out.match(new RegExp(pattern, 'g')) ?? []).length < times; i += 1) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect((out.match(new RegExp(pattern, 'g')) ?? []).length, out).toBeGreaterThanOrEqual(times);
    };
    try {
      await waitFor(/listening on https:\/\/\S+/);
      const url = /listening on (https:\/\/\S+)/.exec(out)![1]!;
      const jwt = await token();
      expect((await via({ url }, '/public/1')).status).toBe(200);

      // Without the feed key: refused, the public route stays.
      writeFileSync(config, JSON.stringify(file({}, [jwtRoute('b')])));
      child.kill('SIGHUP');
      await waitFor(/gateway_reload_failed/);
      expect(out).toContain('gateway.credentials.feedApiKey');
      expect((await via({ url }, '/orders/1', bearer(jwt))).status).toBe(404);

      writeFileSync(config, JSON.stringify(file({ credentials: { feedApiKeyFile: feedFile } }, [jwtRoute('b')])));
      child.kill('SIGHUP');
      await waitFor(/gateway: configuration reloaded/);
      const ok = await via({ url }, '/orders/1', bearer(jwt));
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect((await via({ url }, '/orders/1', bearer(forged(jwt)))).status).toBe(401);
      expect((await via({ url }, '/public/2')).status).toBe(200);
      // a JSON log line, written apart from the plain 'configuration reloaded' line: it may arrive after it
      await waitFor(/gateway_capabilities_added/);
      expect(out).not.toContain(feedKey);
    } finally {
      child.kill('SIGTERM');
      expect(await exitOf(child)).toBe(0);
    }
  }, 60_000);
});
