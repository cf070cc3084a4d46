import type { ServerResponse } from 'node:http';
import { Client } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { gatewayConfig, startBackend, startGateway, testCertificate } from './support.js';

describe('hot reload', () => {
  const closers: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });

  it('swaps routes and limits atomically without dropping an in-flight keep-alive connection', async () => {
    const held: ServerResponse[] = [];
    const a = await startBackend((req, res) => {
      req.resume();
      if (req.url === '/svc/slow') held.push(res);
      else res.end('from-a');
    });
    const b = await startBackend((req, res) => {
      req.resume();
      res.end('from-b');
    });
    closers.push(
      () => a.close(),
      () => b.close(),
    );
    const first = {
      upstreams: [
        { name: 'a', hosts: [a.url] },
        { name: 'b', hosts: [b.url] },
      ],
      routes: [{ name: 'svc', pathPrefix: '/svc/', upstream: 'a' }],
    };
    const gw = await startGateway(first);
    closers.push(() => gw.close());
    let connections = 0;
    gw.server.server.on('secureConnection', () => (connections += 1));

    const client = new Client(gw.url, {
      connect: { ca: testCertificate().certPem, servername: 'localhost' },
      pipelining: 1,
    });
    closers.push(() => client.close());
    const get = async (path: string) => {
      const res = await client.request({ path, method: 'GET' });
      return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
    };
    expect((await get('/svc/x')).body).toBe('from-a');
    const slow = get('/svc/slow');
    while (held.length === 0) await new Promise((r) => setTimeout(r, 5));

    gw.gateway.reload(
      gatewayConfig({
        ...first,
        routes: [
          {
            name: 'svc',
            pathPrefix: '/svc/',
            upstream: 'b',
            limits: [{ name: 'tiny', key: ['route'], rate: 1, per: '1m', burst: 1 }],
          },
        ],
      }),
    );
    held[0]!.end('slow-from-a');
    expect(await slow).toMatchObject({ status: 200, body: 'slow-from-a' }); // the in-flight request finished
    const after = await get('/svc/x');
    expect(after.body).toBe('from-b'); // the new table, on the same connection
    expect(after.headers['ratelimit-policy']).toBe('"tiny";q=1;w=60');
    await get('/svc/x');
    expect((await get('/svc/x')).status).toBe(429); // the new limits
    expect(connections).toBe(1);
  });

  it('keeps the running configuration when the new one is invalid', async () => {
    const a = await startBackend();
    closers.push(() => a.close());
    const config = {
      upstreams: [{ name: 'a', hosts: [a.url] }],
      routes: [{ name: 'svc', pathPrefix: '/', upstream: 'a' }],
    };
    const gw = await startGateway(config);
    closers.push(() => gw.close());
    expect(() =>
      gw.gateway.reload(gatewayConfig({ ...config, routes: [{ name: 'svc', pathPrefix: '/', upstream: 'missing' }] })),
    ).toThrow(/unknown upstream/);
    const { call } = await import('./support.js');
    expect((await call(gw, '/x')).status).toBe(200);
  });

  it("drops the cached entries of a route whose upstream changed and keeps the other routes' entries", async () => {
    const origin = (name: string) =>
      startBackend((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600' });
        res.end(`${name} ${req.url}`);
      });
    const a = await origin('a');
    const b = await origin('b');
    closers.push(
      () => a.close(),
      () => b.close(),
    );
    const section = (svcUpstream: string) => ({
      upstreams: [
        { name: 'a', hosts: [a.url] },
        { name: 'b', hosts: [b.url] },
      ],
      routes: [
        { name: 'svc', pathPrefix: '/svc/', upstream: svcUpstream, cache: { enabled: true } },
        { name: 'kept', pathPrefix: '/kept/', upstream: 'a', cache: { enabled: true } },
      ],
    });
    const gw = await startGateway(section('a'));
    closers.push(() => gw.close());
    const { call } = await import('./support.js');
    expect((await call(gw, '/svc/x')).body).toBe('a /svc/x');
    expect((await call(gw, '/kept/x')).body).toBe('a /kept/x');
    expect((await call(gw, '/svc/x')).headers['x-cache']).toBe('HIT');
    expect(a.hits).toBe(2);

    gw.gateway.reload(gatewayConfig(section('b')));
    const moved = await call(gw, '/svc/x');
    expect(moved.body).toBe('b /svc/x'); // not the entry stored from a
    expect(moved.headers['x-cache']).toBe('MISS');
    const kept = await call(gw, '/kept/x');
    expect(kept.body).toBe('a /kept/x');
    expect(kept.headers['x-cache']).toBe('HIT'); // an unchanged route keeps its entries
    expect(a.hits).toBe(2);
    expect(b.hits).toBe(1);
  });

  it('keeps the counters of an unchanged limit and starts a changed one afresh (a relaxed limit applies at once)', async () => {
    const a = await startBackend();
    closers.push(() => a.close());
    const section = (rate: number, per: string) => ({
      upstreams: [{ name: 'a', hosts: [a.url] }],
      routes: [
        { name: 'svc', pathPrefix: '/', upstream: 'a', limits: [{ name: 'per-ip', key: ['ip' as const], rate, per }] },
      ],
    });
    const gw = await startGateway(section(1, '1m'));
    closers.push(() => gw.close());
    const { call } = await import('./support.js');
    expect((await call(gw, '/x')).status).toBe(200);
    expect((await call(gw, '/x')).status).toBe(429);
    gw.gateway.reload(gatewayConfig(section(1, '1m')));
    expect((await call(gw, '/x')).status).toBe(429); // same limit: same counter
    gw.gateway.reload(gatewayConfig(section(1000, '1s')));
    const relaxed = await call(gw, '/x');
    // Before, the old state (a minute of debt) was read under the new policy: 429 with Retry-After 60 under q=1000;w=1.
    expect(relaxed.status).toBe(200);
    expect(relaxed.headers['ratelimit-policy']).toBe('"per-ip";q=1000;w=1');
  });
});
