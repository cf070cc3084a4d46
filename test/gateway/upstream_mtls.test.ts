import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Base64url } from '../../src/crypto/index.js';
import type { IdentitySource, Sidecar } from '../../src/mesh/index.js';
import { closeServer, echoApp, id, identityFor, meshCa, sidecarFor, TD } from '../mesh/helpers.js';
import { call, startGateway, type RunningGateway } from './support.js';

/** A gateway whose upstream is a real sidecar inbound (STRICT mTLS), reached with the gateway's own SVID. */
describe('upstream mTLS through the mesh library', () => {
  let ca: Awaited<ReturnType<typeof meshCa>>;
  let app: Awaited<ReturnType<typeof echoApp>>;
  let backend: Sidecar;
  let guarded: Sidecar;
  let identity: IdentitySource;
  let gw: RunningGateway;

  beforeAll(async () => {
    ca = await meshCa();
    app = await echoApp('orders');
    backend = (await sidecarFor(ca.client, 'orders', app.address)).sidecar;
    // A second sidecar whose policy admits only `frontend`: the gateway's SVID is seen and refused there.
    guarded = (
      await sidecarFor(ca.client, 'ledger', app.address, {
        policies: [{ name: 'frontend-only', action: 'ALLOW', rules: [{ from: [{ principals: [id('frontend')] }] }] }],
      })
    ).sidecar;
    identity = await identityFor(ca.client, id('gateway', 'edge'));
    const inbound = (s: Sidecar) => `https://127.0.0.1:${s.inboundAddress.port}`;
    gw = await startGateway(
      {
        upstreams: [
          { name: 'orders', hosts: [inbound(backend)], mtls: { spiffeId: id('orders') } },
          { name: 'impostor', hosts: [inbound(backend)], mtls: { spiffeId: id('payments') } },
          { name: 'ledger', hosts: [inbound(guarded)], mtls: { spiffeId: id('ledger') } },
        ],
        routes: [
          { name: 'orders', pathPrefix: '/orders', upstream: 'orders' },
          { name: 'impostor', pathPrefix: '/impostor', upstream: 'impostor' },
          { name: 'ledger', pathPrefix: '/ledger', upstream: 'ledger' },
        ],
      },
      { mesh: { identity, trustDomain: TD } },
    );
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    identity?.stop();
    await backend?.stop();
    await guarded?.stop();
    if (app) await closeServer(app.server);
  });

  it('originates mTLS with its own SVID: the sidecar names the gateway as the caller', async () => {
    const res = await call(gw, '/orders/1');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.app).toBe('orders');
    expect(res.body.headers['x-forwarded-client-cert']).toContain(`URI=${id('gateway', 'edge')}`);
    expect(res.body.headers['x-request-id']).toBe(res.headers['x-request-id']);
  });

  it('sends no request on a connection made with the old SVID once it is renewed (kept-alive ones included)', async () => {
    const hashNow = () => sha256Base64url(new X509Certificate(identity.current!.chainPem).raw);
    const callerHash = async () => {
      const res = await call(gw, '/orders/renewal');
      expect(res.status).toBe(200);
      return /Hash=([^;]+)/.exec(String(res.body.headers['x-forwarded-client-cert']))?.[1];
    };
    expect(await callerHash()).toBe(hashNow());
    const before = hashNow();
    await identity.renewNow();
    expect(hashNow()).not.toBe(before);
    expect(await callerHash()).toBe(hashNow());
  });

  it('refuses a server whose SVID is not the expected SPIFFE ID (502, nothing sent)', async () => {
    const before = app.requests.length;
    const res = await call(gw, '/impostor/1');
    expect(res.status).toBe(502);
    expect(res.body.code).toBe('ERR_GATEWAY_UPSTREAM_FAILED');
    expect(app.requests.length).toBe(before);
  });

  it("is subject to the upstream sidecar's policies by its SPIFFE ID", async () => {
    const res = await call(gw, '/ledger/1');
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('ERR_MESH_FORBIDDEN');
  });

  it('an mtls upstream without a mesh identity is a configuration error', async () => {
    await expect(
      startGateway({
        upstreams: [{ name: 'orders', hosts: ['https://127.0.0.1:1'], mtls: { spiffeId: id('orders') } }],
        routes: [{ name: 'orders', pathPrefix: '/', upstream: 'orders' }],
      }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    await expect(
      startGateway(
        {
          upstreams: [{ name: 'orders', hosts: ['http://127.0.0.1:1'], mtls: { spiffeId: id('orders') } }],
          routes: [{ name: 'orders', pathPrefix: '/', upstream: 'orders' }],
        },
        { mesh: { identity, trustDomain: TD } },
      ),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
  });
});
