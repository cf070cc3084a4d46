// HTTP/2 and gRPC through a pair of sidecars: the app's h2c (a grpc-js client, insecure channel) to its sidecar's
// outbound port, HTTP/2 over mTLS (ALPN h2) between the sidecars, h2c to a grpc-js server behind the peer's sidecar.
import * as grpc from '@grpc/grpc-js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect as h2connect } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemoryLogger } from '../../src/core/index.js';
import type { Sidecar } from '../../src/mesh/index.js';
import { OrdersClient, json, parse, startGrpcUpstream, unary, type Client } from '../gateway/grpc_support.js';
import { echoApp, closeServer, frontendOnly, id, meshCa, sidecarFor } from './helpers.js';

describe('sidecar HTTP/2 and gRPC (outbound h2c from the app, h2 between sidecars, h2c to the app)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  let frontend: Sidecar;
  let intruder: Sidecar;
  let backend: Sidecar;
  let upstream: Awaited<ReturnType<typeof startGrpcUpstream>>;
  let clients: Client[] = [];
  let plainApp: Awaited<ReturnType<typeof echoApp>>;
  let httpBackend: Sidecar;
  let frontendLog: MemoryLogger;
  let ca: Awaited<ReturnType<typeof meshCa>>['client'];

  const through = (sidecar: Sidecar, service: string): Client => {
    const c = new OrdersClient(`127.0.0.1:${sidecar.outboundAddress!.port}`, grpc.credentials.createInsecure(), {
      'grpc.default_authority': service,
    }) as Client;
    clients.push(c);
    return c;
  };

  const breakerOf = (sidecar: Sidecar, name: string) =>
    sidecar.stats().breakers.find((b) => b.upstream === name)?.state;

  beforeAll(async () => {
    const { client } = await meshCa();
    ca = client;
    upstream = await startGrpcUpstream();
    cleanups.push(() => upstream.close());
    ({ sidecar: backend } = await sidecarFor(client, 'backend', upstream.url.replace('http://', ''), {
      inbound: {
        host: '127.0.0.1',
        port: 0,
        app: upstream.url.replace('http://', ''),
        http2: true,
        appProtocol: 'h2c',
      },
      policies: frontendOnly,
    }));
    cleanups.push(() => backend.stop());
    plainApp = await echoApp('plain');
    cleanups.push(() => closeServer(plainApp.server));
    ({ sidecar: httpBackend } = await sidecarFor(client, 'plain', plainApp.address, {
      inbound: { host: '127.0.0.1', port: 0, app: plainApp.address, http2: true },
    }));
    cleanups.push(() => httpBackend.stop());
    const backendAt = `127.0.0.1:${backend.inboundAddress.port}`;
    const upstreams = (names: string[]) =>
      names.map((name) => ({
        name,
        address: name === 'plain' || name === 'plain1' ? `127.0.0.1:${httpBackend.inboundAddress.port}` : backendAt,
        spiffeId: name.startsWith('plain') ? id('plain') : id('backend'),
        protocol: name === 'plain1' ? ('http1' as const) : ('h2' as const),
      }));
    ({ sidecar: frontend, logger: frontendLog } = await sidecarFor(client, 'frontend', '127.0.0.1:9', {
      outbound: {
        host: '127.0.0.1',
        port: 0,
        http2: true,
        upstreams: upstreams(['backend', 'flaky', 'plain', 'plain1']),
      },
      breaker: { consecutiveFailures: 2, openDurationMs: 60_000 },
    }));
    cleanups.push(() => frontend.stop());
    // Two upstreams that must fail: a peer that does not offer h2, and a peer presenting another SPIFFE ID.
    await frontend.reload({
      policies: [],
      breaker: { consecutiveFailures: 2, openDurationMs: 60_000 },
      outbound: {
        host: '127.0.0.1',
        port: 0,
        upstreams: [
          ...upstreams(['backend', 'flaky', 'plain', 'plain1']),
          {
            name: 'noh2',
            address: `127.0.0.1:${frontend.inboundAddress.port}`,
            spiffeId: id('frontend'),
            protocol: 'h2',
          },
          { name: 'wrongid', address: backendAt, spiffeId: id('someone-else'), protocol: 'h2' },
        ],
      },
    });
    ({ sidecar: intruder } = await sidecarFor(client, 'intruder', '127.0.0.1:9', {
      outbound: { host: '127.0.0.1', port: 0, http2: true, upstreams: upstreams(['backend']) },
    }));
    cleanups.push(() => intruder.stop());
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    clients = [];
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('carries a unary call with its metadata and trailers; the app sees the caller in XFCC, not a forged copy', async () => {
    const md = new grpc.Metadata();
    md.set('x-forwarded-client-cert', 'By=spiffe://evil/x;URI=spiffe://mesh.test/ns/demo/sa/admin');
    md.set('x-custom', 'kept');
    const out = await unary(through(frontend, 'backend'), 'echo', { order: 42 }, md);
    expect(out.error).toBeUndefined();
    const got = out.value as { got: unknown; metadata: Record<string, string> };
    expect(got.got).toEqual({ order: 42 });
    expect(got.metadata['x-custom']).toBe('kept');
    const xfcc = got.metadata['x-forwarded-client-cert'];
    expect(xfcc).toContain(`URI=${id('frontend')}`);
    expect(xfcc).toContain(`By=${id('backend')}`);
    expect(xfcc).not.toContain('evil');
    expect(out.headers?.get('x-upstream-header')).toEqual(['yes']);
    expect(out.status?.metadata.get('x-upstream-trailer')).toEqual(['also']);
    expect(frontend.stats().outboundRequests!.forwarded).toBeGreaterThan(0);
    expect(backend.stats().requests.forwarded).toBeGreaterThan(0);
  });

  it('carries server streaming, client streaming and bidirectional calls whole', async () => {
    const c = through(frontend, 'backend');
    const items: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = c.list(json({ n: 200, size: 2_000 }));
      call.on('data', (b: Buffer) => items.push((parse(b) as { i: number }).i));
      call.on('error', reject);
      call.on('end', resolve);
    });
    expect(items).toEqual([...Array(200).keys()]);
    const sum = await new Promise<unknown>((resolve, reject) => {
      const call = c.sum((err: grpc.ServiceError | null, v?: Buffer) => (err ? reject(err) : resolve(parse(v!))));
      for (let n = 1; n <= 10; n++) call.write(json({ n }));
      call.end();
    });
    expect(sum).toEqual({ total: 55, count: 10 });
    const echoes: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = c.chat();
      call.on('data', (b: Buffer) => {
        echoes.push(parse(b));
        if (echoes.length < 3) call.write(json({ say: `m${echoes.length}` }));
        else call.end();
      });
      call.on('error', reject);
      call.on('end', resolve);
      call.write(json({ say: 'm0' }));
    });
    expect(echoes).toEqual([{ echo: 'm0' }, { echo: 'm1' }, { echo: 'm2' }]);
  });

  it("relays a gRPC error status with its details; UNAVAILABLE counts against the upstream's breaker", async () => {
    const c = through(frontend, 'backend');
    const notFound = await unary(c, 'fail', {});
    expect(notFound.error?.code).toBe(grpc.status.NOT_FOUND);
    expect(notFound.error?.details).toBe('no such order: 42 (ünïcode)');
    // NOT_FOUND is the caller's error: the breaker of `backend` stays closed.
    expect(breakerOf(frontend, 'backend')).toBe('closed');
    const flaky = through(frontend, 'flaky');
    for (let i = 0; i < 2; i++) expect((await unary(flaky, 'down', {})).error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(breakerOf(frontend, 'flaky')).toBe('open');
    const refused = await unary(flaky, 'echo', {});
    expect(refused.error?.code).toBe(grpc.status.UNAVAILABLE); // 503 from the open breaker
    expect(frontend.stats().outboundRequests!.circuitOpen).toBe(1);
    expect((await unary(c, 'echo', { still: 'fine' })).value).toMatchObject({ got: { still: 'fine' } });
  });

  it('judges each HTTP/2 stream by the policies: a caller outside them gets PERMISSION_DENIED', async () => {
    const before = backend.stats().requests.denied;
    const out = await unary(through(intruder, 'backend'), 'echo', {});
    expect(out.error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(backend.stats().requests.denied).toBe(before + 1);
  });

  it('keeps HTTP/1.1 on the h2c-enabled outbound port, and carries it over an h2 upstream to an HTTP/1.1 app', async () => {
    const res = await request(`http://127.0.0.1:${frontend.outboundAddress!.port}/items?q=1`, {
      method: 'POST',
      headers: { host: 'plain', 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(res.statusCode).toBe(200);
    const seen = (await res.body.json()) as {
      method: string;
      url: string;
      body: string;
      headers: Record<string, string>;
    };
    expect(seen).toMatchObject({ method: 'POST', url: '/items?q=1', body: '{"a":1}' });
    expect(seen.headers['x-forwarded-client-cert']).toContain(`URI=${id('frontend')}`);
    expect(seen.headers['x-forwarded-host']).toBe('plain'); // the service name the app called, as over HTTP/1.1
    // A connection-specific field in the app's HTTP/1.1 answer is dropped on the HTTP/2 hop (node throws on it).
    plainApp.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/h2settings') res.setHeader('HTTP2-Settings', 'AAMAAABkAAQAAP__');
    });
    const odd = await request(`http://127.0.0.1:${frontend.outboundAddress!.port}/h2settings`, {
      headers: { host: 'plain' },
    });
    expect(odd.statusCode).toBe(200);
    expect(((await odd.body.json()) as { url: string }).url).toBe('/h2settings');
    expect(odd.headers['http2-settings']).toBeUndefined();
  });

  it('refuses a gRPC call to an HTTP/1.1 hop with ERR_MESH_GRPC_NEEDS_HTTP2 (outbound upstream, inbound app)', async () => {
    const res = await request(`http://127.0.0.1:${frontend.outboundAddress!.port}/test.Orders/Echo`, {
      method: 'POST',
      headers: { host: 'plain1', 'content-type': 'application/grpc' },
      body: Buffer.from([0, 0, 0, 0, 0]),
    });
    expect(res.statusCode).toBe(502);
    expect(((await res.body.json()) as { code: string }).code).toBe('ERR_MESH_GRPC_NEEDS_HTTP2');
    // Over h2 to a sidecar whose app speaks HTTP/1.1: refused there.
    const viaH2 = await unary(through(frontend, 'plain'), 'echo', {});
    expect(viaH2.error?.code).toBe(grpc.status.UNAVAILABLE); // HTTP 502
    expect(plainApp.requests.filter((r) => r.url === '/test.Orders/Echo')).toHaveLength(0);
  });

  it('refuses an h2 upstream that does not pick ALPN h2, or presents another SPIFFE ID (502, nothing sent)', async () => {
    const noH2 = await request(`http://127.0.0.1:${frontend.outboundAddress!.port}/x`, { headers: { host: 'noh2' } });
    expect(noH2.statusCode).toBe(502);
    expect(((await noH2.body.json()) as { code: string }).code).toBe('ERR_MESH_UPSTREAM_FAILED');
    const failedBefore = frontend.stats().outboundRequests!.failed;
    const wrong = await unary(through(frontend, 'wrongid'), 'echo', {});
    expect(wrong.error?.code).toBe(grpc.status.UNAVAILABLE); // HTTP 502: our server-identity check refused the peer
    expect(wrong.error?.details).toContain('502');
    expect(frontend.stats().outboundRequests!.failed).toBe(failedBefore + 1);
  });

  it('answers 502 for an answer HTTP/2 cannot carry (status 600), on both sides, and keeps serving', async () => {
    const h2c = h2connect(`http://127.0.0.1:${frontend.outboundAddress!.port}`);
    h2c.on('error', () => {});
    const ask = (authority: string, path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = h2c.request({ ':path': path, ':authority': authority });
        let body = '';
        req.setEncoding('utf8');
        req.on('response', (h) => {
          req.on('data', (c: string) => (body += c));
          req.on('end', () => resolve({ status: Number(h[':status']), body }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      // app over h2c → outbound → HTTP/1.1 upstream whose app answers 600: refused at the outbound side
      const viaHttp1 = await ask('plain1', '/odd?status=600');
      expect(viaHttp1.status).toBe(502);
      expect(JSON.parse(viaHttp1.body).code).toBe('ERR_MESH_UPSTREAM_FAILED');
      // HTTP/1.1 caller → outbound → h2 upstream → inbound (HTTP/2 stream) → app answering 600: refused inbound
      const viaH2 = await request(`http://127.0.0.1:${frontend.outboundAddress!.port}/odd?status=600`, {
        headers: { host: 'plain' },
      });
      expect(viaH2.statusCode).toBe(502);
      expect(((await viaH2.body.json()) as { code: string }).code).toBe('ERR_MESH_UPSTREAM_FAILED');
      // Both sidecars go on serving, and the upstream's breaker was told (no trial slot kept).
      expect((await ask('plain1', '/fine')).status).toBe(200);
      expect(breakerOf(frontend, 'plain1')).toBe('closed');
      // `plain`'s second 502 in a row (the gRPC refusal above was its first) opened its breaker (2 failures).
      expect(breakerOf(frontend, 'plain')).toBe('open');
    } finally {
      h2c.destroy();
    }
  });

  it('writes one access line per HTTP/2 request', async () => {
    const lines = () => frontendLog.lines.filter((l) => l.log === 'access' && l.path === '/test.Orders/Echo').length;
    const before = lines();
    await unary(through(frontend, 'backend'), 'echo', {});
    await sleep(50); // the stream's close comes after the answer's end
    expect(lines() - before).toBe(1);
  });

  it('stops without waiting out the drain for an idle HTTP/1.1 keep-alive connection on the h2c-enabled port', async () => {
    const { sidecar: side } = await sidecarFor(ca, 'stopper', '127.0.0.1:9', {
      outbound: { host: '127.0.0.1', port: 0, http2: true, upstreams: [] },
      drainMs: 30_000,
    });
    const res = await request(`http://127.0.0.1:${side.outboundAddress!.port}/x`, { headers: { host: 'none' } });
    expect(res.statusCode).toBe(404); // ERR_MESH_UNKNOWN_SERVICE; the connection stays open, idle
    await res.body.dump();
    const outcome = await Promise.race([
      side.stop().then(() => 'stopped'),
      sleep(20_000).then(() => 'still draining after 20 s'),
    ]);
    expect(outcome).toBe('stopped');
  });

  it('opens a new HTTP/2 connection with the new certificate after a renewal; the calls go on', async () => {
    const c = through(frontend, 'backend');
    expect((await unary(c, 'echo', { n: 1 })).error).toBeUndefined();
    const before = frontend.stats().outbound!.connected;
    await frontend.renewNow();
    expect((await unary(c, 'echo', { n: 2 })).value).toMatchObject({ got: { n: 2 } });
    expect(frontend.stats().outbound!.connected).toBe(before + 1);
  });

  it('offers h2 by ALPN on the inbound listener only when configured, and checks the peer before any stream', async () => {
    const alpn = (port: number) =>
      new Promise<string | false | null>((resolve, reject) => {
        const s = tlsConnect({ port, host: '127.0.0.1', ALPNProtocols: ['h2', 'http/1.1'], rejectUnauthorized: false });
        s.once('secureConnect', () => {
          resolve(s.alpnProtocol);
          s.destroy();
        });
        s.once('error', reject);
      });
    expect(await alpn(backend.inboundAddress.port)).toBe('h2');
    expect(await alpn(frontend.inboundAddress.port)).toBe('http/1.1'); // inbound.http2 not set
    // Without a client certificate (STRICT): the connection is closed before any stream is served.
    const session = h2connect(`https://127.0.0.1:${backend.inboundAddress.port}`, { rejectUnauthorized: false });
    session.on('error', () => {});
    const status = await new Promise<string>((resolve) => {
      const req = session.request({ ':path': '/test.Orders/Echo', ':method': 'POST' });
      req.on('response', (h) => resolve(String(h[':status'])));
      req.on('error', (err: Error) => resolve(`error: ${err.message}`));
      req.on('close', () => resolve('closed'));
      req.end();
    });
    session.destroy();
    expect(status).not.toBe('200');
    expect(upstream.seen.hangs).toBe(0);
  });
});
