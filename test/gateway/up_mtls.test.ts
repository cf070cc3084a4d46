import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandaloneGateway, type RunningGatehouse } from '../../src/app/index.js';
import type { StandaloneGateway } from '../../src/app/gateway_standalone.js';
import { HttpCaClient } from '../../src/app/mesh_http_ca_client.js';
import { configSchema, loadConfig } from '../../src/config/index.js';
import { MemoryLogger, systemClock } from '../../src/core/index.js';
import { Sidecar } from '../../src/mesh/index.js';
import { closeServer, echoApp } from '../mesh/helpers.js';
import { trustingAgent } from '../support/https.js';
import { tempDir } from '../support/tmp.js';
import { startTestGatehouse } from '../support/up.js';
import { startBackend, testCertificate, type Json } from './support.js';

const TD = 'gatehouse.local';
const ORDERS = `spiffe://${TD}/ns/shop/sa/orders`;
const UP_GATEWAY = `spiffe://${TD}/ns/gatehouse/sa/gateway`;
const EDGE_GATEWAY = `spiffe://${TD}/ns/edge/sa/gateway`;

/**
 * Upstream mTLS with SVIDs from the platform CA: a real sidecar inbound (STRICT, bootstrapped with a join token at the
 * CA listener of an in-process `gatehouse up`) behind the gateway of `gatehouse up` and behind a standalone gateway
 * that gets its own SVID with `gateway.mesh`.
 */
describe('gateway upstreams over mTLS with SVIDs from the platform CA', () => {
  const tmp = tempDir();
  let running: RunningGatehouse;
  let platform: Agent;
  let adminToken: string;
  let app: Awaited<ReturnType<typeof echoApp>>;
  let sidecar: Sidecar;
  let caClient: HttpCaClient;
  let inbound: string;

  const admin = async (path: string, json: unknown): Promise<Json> => {
    const res = await request(`${running.endpoints.admin}${path}`, {
      method: 'POST',
      dispatcher: platform,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(json),
    });
    const body = (await res.body.json()) as Json;
    expect(res.statusCode, JSON.stringify(body)).toBe(201);
    return body;
  };
  const joinToken = async (spiffeId: string) => (await admin('/v1/ca/join-tokens', { spiffe_id: spiffeId })).token;
  const section = (hosts: string[], spiffeId = ORDERS) =>
    configSchema.parse({
      gateway: {
        upstreams: [{ name: 'orders', hosts, mtls: { spiffeId } }],
        routes: [{ name: 'orders', pathPrefix: '/orders/', upstream: 'orders' }],
      },
    }).gateway;

  beforeAll(async () => {
    // No mtls upstream at start: the gateway gets its SVID at the reload that adds the first one.
    ({ running, adminToken } = await startTestGatehouse({ dataDir: join(tmp.dir, 'data') }));
    platform = trustingAgent(running.endpoints.trustBundle);
    app = await echoApp('orders');
    caClient = new HttpCaClient({
      url: running.endpoints.ca,
      bundlePem: readFileSync(running.endpoints.trustBundle, 'utf8'),
    });
    const token = await joinToken(ORDERS);
    sidecar = await Sidecar.start({
      client: caClient,
      credential: () => token,
      trustDomain: TD,
      clock: systemClock,
      logger: new MemoryLogger(),
      mode: 'STRICT',
      policies: [
        {
          name: 'gateways-only',
          action: 'ALLOW',
          rules: [{ from: [{ principals: [UP_GATEWAY, EDGE_GATEWAY] }] }],
        },
      ],
      inbound: { host: '127.0.0.1', port: 0, app: app.address },
    });
    inbound = `https://127.0.0.1:${sidecar.inboundAddress.port}`;
  }, 60_000);

  afterAll(async () => {
    await sidecar?.stop();
    await caClient?.close();
    if (app) await closeServer(app.server);
    await platform?.close();
    await running?.stop();
    tmp.remove();
  });

  it('a reload adding the first mtls upstream gives the gateway of gatehouse up its SVID (…/ns/gatehouse/sa/gateway)', async () => {
    expect((await request(`${running.endpoints.gateway}/orders/7`, { dispatcher: platform })).statusCode).toBe(404);
    await running.reloadGateway(section([inbound]));
    const res = await request(`${running.endpoints.gateway}/orders/7`, { dispatcher: platform });
    const body = (await res.body.json()) as Json;
    expect(res.statusCode, JSON.stringify(body)).toBe(200);
    expect(body.app).toBe('orders');
    expect(body.headers['x-forwarded-client-cert']).toContain(`URI=${UP_GATEWAY}`);

    await running.reloadGateway(section([inbound], `spiffe://${TD}/ns/shop/sa/payments`)); // not who answers there
    const wrong = await request(`${running.endpoints.gateway}/orders/7`, { dispatcher: platform });
    expect(wrong.statusCode).toBe(502);
    expect(((await wrong.body.json()) as Json).code).toBe('ERR_GATEWAY_UPSTREAM_FAILED');
  });

  it('a standalone gateway bootstraps its SVID with a join token (gateway.mesh) and is known by it', async () => {
    const { certPem, keyPem } = testCertificate();
    const gateway: StandaloneGateway = await startStandaloneGateway({
      config: loadConfig({
        overrides: {
          listen: { host: '127.0.0.1', gateway: { port: 0 } },
          gateway: {
            ...section([inbound]),
            mesh: {
              ca: { url: running.endpoints.ca, bundleFile: running.endpoints.trustBundle },
              joinToken: await joinToken(EDGE_GATEWAY),
              spiffeId: EDGE_GATEWAY,
            },
          },
        },
      }),
      certPem,
      keyPem,
      clock: systemClock,
      logger: new MemoryLogger(),
    });
    const client = new Agent({ connect: { ca: certPem, servername: 'localhost' } });
    try {
      const res = await request(`${gateway.url}/orders/8`, { dispatcher: client });
      const body = (await res.body.json()) as Json;
      expect(res.statusCode, JSON.stringify(body)).toBe(200);
      expect(body.headers['x-forwarded-client-cert']).toContain(`URI=${EDGE_GATEWAY}`);
    } finally {
      await client.close();
      await gateway.close();
    }
  });

  // A mistake in gateway.mesh used to be found only after the bootstrap had used up the one-time join token.
  it('a standalone gateway refuses start-up mistakes before it spends its join token; the token then still works', async () => {
    const { certPem, keyPem } = testCertificate();
    const token = await joinToken(EDGE_GATEWAY);
    const tmpFile = join(tmp.dir, 'edge.join');
    writeFileSync(tmpFile, `${token}\n`, { mode: 0o600 });
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const takenPort = (taken.address() as AddressInfo).port;
    const start = (mesh: Record<string, unknown>, o: { port?: number; upstreams?: string[][] } = {}) =>
      startStandaloneGateway({
        config: loadConfig({
          overrides: {
            listen: { host: '127.0.0.1', gateway: { port: o.port ?? 0 } },
            gateway: {
              upstreams: (o.upstreams ?? [[inbound, ORDERS]]).map(([host, spiffeId]) => ({
                name: 'orders',
                hosts: [host],
                mtls: { spiffeId },
              })),
              routes: [{ name: 'orders', pathPrefix: '/orders/', upstream: 'orders' }],
              mesh: {
                ca: { url: running.endpoints.ca, bundleFile: running.endpoints.trustBundle },
                joinTokenFile: tmpFile,
                spiffeId: EDGE_GATEWAY,
                ...mesh,
              },
            },
          },
        }),
        certPem,
        keyPem,
        clock: systemClock,
        logger: new MemoryLogger(),
      });
    const refusals: Array<[() => Promise<StandaloneGateway>, string, string]> = [
      [
        () => start({ spiffeId: `spiffe://${TD}/ns/edge/sa/gatewai` }),
        'ERR_CONFIG_INVALID',
        `config: gateway.mesh.spiffeId: the join token is not bound to spiffe://${TD}/ns/edge/sa/gatewai (it was not used up)`,
      ],
      [
        () => start({ spiffeId: 'spiffe://example.org/ns/edge/sa/gateway' }),
        'ERR_CONFIG_INVALID',
        'config: gateway.mesh.spiffeId: The SPIFFE ID is not in trust domain',
      ],
      [
        () => start({}, { upstreams: [[inbound, 'spiffe://example.org/ns/shop/sa/orders']] }),
        'ERR_CONFIG_INVALID',
        'config: gateway.upstreams.0.mtls.spiffeId: spiffe://example.org/ns/shop/sa/orders is not in trustDomain',
      ],
      [
        () => start({}, { upstreams: [[inbound.replace('https:', 'http:'), ORDERS]] }),
        'ERR_CONFIG_INVALID',
        'uses mtls, so its hosts must be https:// origins',
      ],
      [
        () => start({ ca: { url: running.endpoints.ca, bundleFile: join(tmp.dir, 'missing.pem') } }),
        'ERR_CONFIG_INVALID',
        `config: gateway.mesh.ca.bundleFile: cannot read ${join(tmp.dir, 'missing.pem')}: no such file`,
      ],
      [
        () => start({ joinTokenFile: join(tmp.dir, 'missing.join') }),
        'ERR_CONFIG_INVALID',
        'config: gateway.mesh.joinTokenFile: cannot read',
      ],
      [
        () => start({}, { port: takenPort }),
        'ERR_PORT_IN_USE',
        `gateway listener cannot bind 127.0.0.1:${takenPort}: address already in use`,
      ],
    ];
    try {
      for (const [started, code, message] of refusals) {
        await expect(started()).rejects.toMatchObject({ code, message: expect.stringContaining(message) });
      }
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }

    // The same token file still bootstraps the corrected configuration.
    const gateway = await start({});
    const client = new Agent({ connect: { ca: certPem, servername: 'localhost' } });
    try {
      const res = await request(`${gateway.url}/orders/10`, { dispatcher: client });
      const body = (await res.body.json()) as Json;
      expect(res.statusCode, JSON.stringify(body)).toBe(200);
      expect(body.headers['x-forwarded-client-cert']).toContain(`URI=${EDGE_GATEWAY}`);
    } finally {
      await client.close();
      await gateway.close();
    }
    // Used now: the refusal names the command that makes a new one.
    await expect(start({})).rejects.toMatchObject({
      code: 'ERR_PKI_JOIN_TOKEN_INVALID',
      message: expect.stringContaining(`make a new one with gatehouse ca join-token --spiffe-id ${EDGE_GATEWAY}`),
    });
  });

  it('a standalone gateway with mtls upstreams and no gateway.mesh refuses to start', async () => {
    const { certPem, keyPem } = testCertificate();
    await expect(
      startStandaloneGateway({
        config: loadConfig({ overrides: { listen: { gateway: { port: 0 } }, gateway: section([inbound]) } }),
        certPem,
        keyPem,
        clock: systemClock,
        logger: new MemoryLogger(),
      }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
  });
  it('a standalone gateway gets its SVID at the reload adding gateway.mesh and its first mtls upstream; an SVID it cannot get refuses the reload', async () => {
    const backend = await startBackend();
    const { certPem, keyPem } = testCertificate();
    const plain = configSchema.parse({
      gateway: {
        upstreams: [{ name: 'plain', hosts: [backend.url] }],
        routes: [{ name: 'plain', pathPrefix: '/plain/', upstream: 'plain' }],
      },
    }).gateway;
    const logger = new MemoryLogger();
    const gateway = await startStandaloneGateway({
      config: loadConfig({ overrides: { listen: { host: '127.0.0.1', gateway: { port: 0 } }, gateway: plain } }),
      certPem,
      keyPem,
      clock: systemClock,
      logger,
    });
    const client = new Agent({ connect: { ca: certPem, servername: 'localhost' } });
    const statusOf = async (path: string) => {
      const res = await request(`${gateway.url}${path}`, { dispatcher: client });
      return { status: res.statusCode, body: (await res.body.json()) as Json };
    };
    const withOrders = (mesh?: Record<string, unknown>) =>
      configSchema.parse({
        gateway: {
          upstreams: [...plain.upstreams, { name: 'orders', hosts: [inbound], mtls: { spiffeId: ORDERS } }],
          routes: [...plain.routes, { name: 'orders', pathPrefix: '/orders/', upstream: 'orders' }],
          ...(mesh === undefined ? {} : { mesh }),
        },
      }).gateway;
    const meshAt = { ca: { url: running.endpoints.ca, bundleFile: running.endpoints.trustBundle } };
    try {
      // No gateway.mesh: nothing can give it an SVID.
      await expect(gateway.reload(withOrders())).rejects.toMatchObject({
        code: 'ERR_CONFIG_INVALID',
        message: expect.stringContaining('(gateway.mesh)'),
      });
      // A join token the CA refuses: no SVID, the reload is refused and the running routes stay.
      const refused = gateway.reload(withOrders({ ...meshAt, joinToken: 'not-a-join-token' }));
      await expect(refused).rejects.toMatchObject({
        code: 'ERR_CONFIG_INVALID',
        message: expect.stringContaining("the gateway's mesh identity (for upstreams with mtls) could not be issued"),
      });
      expect((await statusOf('/plain/1')).status).toBe(200);
      expect((await statusOf('/orders/1')).status).toBe(404);

      await gateway.reload(withOrders({ ...meshAt, joinToken: await joinToken(EDGE_GATEWAY), spiffeId: EDGE_GATEWAY }));
      const res = await statusOf('/orders/9');
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.headers['x-forwarded-client-cert']).toContain(`URI=${EDGE_GATEWAY}`);
      expect((await statusOf('/plain/2')).status).toBe(200);
      expect(logger.lines.filter((l) => l['event'] === 'gateway_capabilities_added')).toMatchObject([{ mesh: true }]);
    } finally {
      await client.close();
      await gateway.close();
      await backend.close();
    }
  });
});
