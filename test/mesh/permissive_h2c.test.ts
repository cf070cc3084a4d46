// PERMISSIVE with HTTP/2 offered: a plaintext caller that speaks h2c with prior knowledge (a grpc-js client with
// insecure credentials, not yet in the mesh) is served on the inbound port beside plaintext HTTP/1.1 and mTLS, with the
// plaintext rules (no XFCC, a forged one dropped; a policy naming principals denies it).
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sidecar } from '../../src/mesh/index.js';
import { OrdersClient, startGrpcUpstream, unary, type Client } from '../gateway/grpc_support.js';
import { frontendOnly, meshCa, sidecarFor } from './helpers.js';

describe('PERMISSIVE inbound with http2: plaintext h2c beside HTTP/1.1 and mTLS', () => {
  let upstream: Awaited<ReturnType<typeof startGrpcUpstream>>;
  let open: Sidecar;
  let guarded: Sidecar;
  const clients: Client[] = [];
  const plainClient = (sidecar: Sidecar): Client => {
    const c = new OrdersClient(`127.0.0.1:${sidecar.inboundAddress.port}`, grpc.credentials.createInsecure()) as Client;
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    const { client } = await meshCa();
    upstream = await startGrpcUpstream();
    const app = upstream.url.replace('http://', '');
    const inbound = { host: '127.0.0.1', port: 0, app, http2: true, appProtocol: 'h2c' as const };
    open = (await sidecarFor(client, 'orders', app, { mode: 'PERMISSIVE', inbound })).sidecar;
    guarded = (await sidecarFor(client, 'orders', app, { mode: 'PERMISSIVE', inbound, policies: frontendOnly }))
      .sidecar;
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await open?.stop();
    await guarded?.stop();
    upstream?.close();
  });

  it('serves a gRPC call over plaintext h2c, without a client identity (a forged XFCC dropped)', async () => {
    const md = new grpc.Metadata();
    md.set('x-forwarded-client-cert', 'By=forged;URI=spiffe://mesh.test/ns/demo/sa/admin');
    const before = open.stats().inbound.plaintext;
    const out = await unary(plainClient(open), 'echo', { n: 1 }, md);
    expect(out.error).toBeUndefined();
    expect(out.value?.got).toEqual({ n: 1 });
    expect(out.value?.metadata['x-forwarded-client-cert']).toBeUndefined();
    expect(open.stats().inbound.plaintext).toBe(before + 1);
  });

  it('still serves plaintext HTTP/1.1 on the same port', async () => {
    // The app speaks gRPC only: what matters is that the HTTP/1.1 request is parsed and relayed (not sorted as h2c).
    const res = await request(`http://127.0.0.1:${open.inboundAddress.port}/plain`);
    await res.body.dump();
    expect(res.statusCode).toBeLessThan(500);
  });

  it('denies a plaintext h2c caller where a policy names principals (PERMISSION_DENIED)', async () => {
    const out = await unary(plainClient(guarded), 'echo', { n: 2 });
    expect(out.error?.code).toBe(grpc.status.PERMISSION_DENIED);
  });
});
