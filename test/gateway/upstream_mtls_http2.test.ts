// The gateway into the mesh over HTTP/2 (`protocol: h2` with `mtls`): gRPC from the edge to a service behind its
// sidecar, HTTP/1.1 clients to an HTTP/2 sidecar inbound, the peer's SPIFFE ID checked, health checks over the same
// mTLS, and the connection retired once the gateway's SVID is renewed.
import * as grpc from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import type { IdentitySource, Sidecar } from '../../src/mesh/index.js';
import { closeServer, echoApp, id, identityFor, meshCa, sidecarFor, TD } from '../mesh/helpers.js';
import { client, startGrpcUpstream, unary, type Client } from './grpc_support.js';
import { call, startGateway, type RunningGateway } from './support.js';

describe('gateway upstreams in the mesh over HTTP/2 (protocol h2 + mtls)', () => {
  let ca: Awaited<ReturnType<typeof meshCa>>;
  let grpcUp: Awaited<ReturnType<typeof startGrpcUpstream>>;
  let app: Awaited<ReturnType<typeof echoApp>>;
  let orders: Sidecar;
  let web: Sidecar;
  let identity: IdentitySource;
  let gw: RunningGateway;
  let grpcClient: Client;

  beforeAll(async () => {
    ca = await meshCa();
    grpcUp = await startGrpcUpstream();
    app = await echoApp('web');
    const h2Inbound = (appAddress: string, appProtocol: 'h2c' | 'http1') => ({
      inbound: { host: '127.0.0.1', port: 0, app: appAddress, http2: true, appProtocol },
    });
    const grpcAddress = grpcUp.url.replace('http://', '');
    orders = (await sidecarFor(ca.client, 'orders', grpcAddress, h2Inbound(grpcAddress, 'h2c'))).sidecar;
    web = (await sidecarFor(ca.client, 'web', app.address, h2Inbound(app.address, 'http1'))).sidecar;
    identity = await identityFor(ca.client, id('gateway', 'edge'));
    const inbound = (s: Sidecar) => `https://127.0.0.1:${s.inboundAddress.port}`;
    const check = { path: '/healthz', interval: '200ms', timeout: '200ms', healthyThreshold: 1, unhealthyThreshold: 1 };
    gw = await startGateway(
      {
        http2: { enabled: true },
        upstreams: [
          { name: 'orders', hosts: [inbound(orders)], protocol: 'h2', mtls: { spiffeId: id('orders') } },
          { name: 'web', hosts: [inbound(web)], protocol: 'h2', mtls: { spiffeId: id('web') }, healthCheck: check },
          {
            name: 'impostor',
            hosts: [inbound(web)],
            protocol: 'h2',
            mtls: { spiffeId: id('payments') },
            healthCheck: check,
          },
        ],
        routes: [
          {
            name: 'grpc',
            pathPrefix: '/test.Orders/',
            upstream: 'orders',
            waf: { contentTypes: ['application/grpc'] },
          },
          { name: 'web', pathPrefix: '/web', upstream: 'web' },
          { name: 'impostor', pathPrefix: '/impostor', upstream: 'impostor' },
        ],
      },
      { mesh: { identity, trustDomain: TD } },
    );
    grpcClient = client(gw);
  }, 60_000);

  afterAll(async () => {
    grpcClient?.close();
    await gw?.close();
    identity?.stop();
    await orders?.stop();
    await web?.stop();
    grpcUp?.close();
    if (app) await closeServer(app.server);
  });

  it('carries a gRPC call from the edge to a service behind its sidecar, the gateway named as the caller', async () => {
    const md = new grpc.Metadata();
    md.set('x-client-note', 'hi');
    const out = await unary(grpcClient, 'echo', { n: 1 }, md);
    expect(out.error).toBeUndefined();
    expect(out.value?.got).toEqual({ n: 1 });
    expect(out.value?.metadata['x-client-note']).toBe('hi');
    expect(String(out.value?.metadata['x-forwarded-client-cert'])).toContain(`URI=${id('gateway', 'edge')}`);
    expect(out.status?.metadata.get('x-upstream-trailer')).toEqual(['also']); // trailers relayed end to end
    expect(orders.stats().inbound.admitted).toBeGreaterThanOrEqual(1);
  });

  it('serves an HTTP/1.1 client through an HTTP/2 sidecar inbound (the app behind it speaks HTTP/1.1)', async () => {
    const res = await call(gw, '/web/1');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.app).toBe('web');
    expect(res.body.headers['x-forwarded-client-cert']).toContain(`URI=${id('gateway', 'edge')}`);
  });

  it('refuses a peer whose SVID names another SPIFFE ID (502, nothing reaches the app)', async () => {
    const before = app.requests.filter((r) => r.url?.startsWith('/impostor')).length;
    const res = await call(gw, '/impostor/1');
    expect(res.status).toBe(502);
    expect(res.body.code).toBe('ERR_GATEWAY_UPSTREAM_FAILED');
    expect(app.requests.filter((r) => r.url?.startsWith('/impostor')).length).toBe(before);
  });

  it('health-checks the hosts over the same mTLS HTTP/2 connections (the impostor fails its checks)', async () => {
    const deadline = Date.now() + 10_000;
    let text = '';
    while (Date.now() < deadline) {
      text = await gw.gateway.metrics.text();
      if (
        /upstream_host_healthy\{upstream="impostor",[^}]*\} 0\n/.test(text) &&
        app.requests.some((r) => r.url === '/healthz')
      )
        break;
      await sleep(100);
    }
    expect(text).toMatch(/gatehouse_gateway_upstream_host_healthy\{upstream="web",[^}]*\} 1\n/);
    expect(text).toMatch(/gatehouse_gateway_upstream_host_healthy\{upstream="impostor",[^}]*\} 0\n/);
    const check = app.requests.find((r) => r.url === '/healthz');
    expect(check?.headers['x-forwarded-client-cert']).toContain(`URI=${id('gateway', 'edge')}`);
  });

  it("opens a new connection with the new certificate once the gateway's SVID is renewed", async () => {
    /** The SHA-256 of the client certificate the sidecar saw (XFCC `Hash=`). */
    const presented = async (n: number) => {
      const out = await unary(grpcClient, 'echo', { n });
      expect(out.error).toBeUndefined();
      return /Hash=([^;,]+)/.exec(String(out.value?.metadata['x-forwarded-client-cert']))?.[1];
    };
    const first = await presented(2);
    const before = orders.stats().inbound.admitted;
    expect(await presented(3)).toBe(first);
    expect(orders.stats().inbound.admitted).toBe(before); // one multiplexed connection
    const serial = identity.current!.serialNumber;
    await identity.renewNow();
    expect(identity.current!.serialNumber).not.toBe(serial);
    const after = await presented(4);
    expect(orders.stats().inbound.admitted).toBe(before + 1);
    // A full handshake with the new SVID: a resumed session of the old one would carry the old certificate.
    expect(after).toBeDefined();
    expect(after).not.toBe(first);
    // The health checks' connections move to the new certificate too.
    const checksBefore = app.requests.length;
    const deadline = Date.now() + 5_000;
    let check: (typeof app.requests)[number] | undefined;
    while (Date.now() < deadline && check === undefined) {
      await sleep(100);
      check = app.requests.slice(checksBefore).find((r) => r.url === '/healthz');
    }
    const webHash = /Hash=([^;,]+)/.exec(String(check?.headers['x-forwarded-client-cert']))?.[1];
    expect(webHash).toBe(after);
  });

  it('accepts mtls with protocol h2 in the schema, not with h2c (plaintext)', () => {
    const parse = (upstream: object) =>
      configSchema.safeParse({ gateway: { upstreams: [{ name: 'u', mtls: { spiffeId: id('u') }, ...upstream }] } });
    expect(parse({ hosts: ['https://127.0.0.1:2'], protocol: 'h2' }).success).toBe(true);
    const h2c = parse({ hosts: ['http://127.0.0.1:2'], protocol: 'h2c' });
    expect(h2c.success).toBe(false);
    expect(JSON.stringify(h2c.error?.issues)).toMatch(/"mtls"\].*h2c is plaintext/);
  });
});
