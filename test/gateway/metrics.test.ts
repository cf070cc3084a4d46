import { connect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/core/index.js';
import { STAGE_NAMES } from '../../src/gateway/index.js';
import { call, startBackend, startGateway, testCertificate, type RunningGateway } from './support.js';

/** A gateway logging to memory, one route `r` whose limit `l` admits one request per address per minute. */
async function limitedGateway() {
  const backend = await startBackend();
  const logger = new MemoryLogger();
  const gw = await startGateway(
    {
      upstreams: [{ name: 'u', hosts: [backend.url] }],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'u', limits: [{ name: 'l', key: ['ip'], rate: 1, per: '1m' }] }],
    },
    { logger },
  );
  return { backend, logger, gw };
}

describe('observability', () => {
  it('exposes Prometheus metrics and writes asynchronous access logs without credentials or query strings', async () => {
    const { backend, logger, gw } = await limitedGateway();
    try {
      expect((await call(gw, '/a?api_key=secret')).status).toBe(200);
      expect((await call(gw, '/a', { headers: { 'x-api-key': 'ghk_secret' } })).status).toBe(429);
      await new Promise((r) => setImmediate(r));
      const text = await gw.gateway.metrics.text();
      expect(text).toContain('gatehouse_gateway_requests_total{route="r",status="200"} 1');
      expect(text).toContain('gatehouse_gateway_requests_total{route="r",status="429"} 1');
      expect(text).toContain('gatehouse_gateway_limited_total{route="r",limit="l"} 1');
      expect(text).toMatch(/gatehouse_gateway_request_duration_seconds_count\{route="r"\} 2/);
      expect(text).toContain('# TYPE gatehouse_gateway_breaker_state gauge');
      const access = logger.lines.filter((l) => l.msg === 'access');
      expect(access.map((l) => [l['path'], l['status']])).toEqual([
        ['/a', 200],
        ['/a', 429],
      ]);
      expect(JSON.stringify(logger.lines)).not.toContain('secret');
    } finally {
      await gw.close();
      await backend.close();
    }
  });

  it('exposes the in-process limiter store: its keys, and the owing keys it dropped to stay within maxKeys', async () => {
    const backend = await startBackend();
    // Two keys at most (one per generation); each address owes its next request a minute from now.
    const gw = await startGateway(
      {
        upstreams: [{ name: 'u', hosts: [backend.url] }],
        trustedProxies: ['127.0.0.1/32'],
        routes: [
          { name: 'r', pathPrefix: '/', upstream: 'u', limits: [{ name: 'l', key: ['ip'], rate: 1, per: '1m' }] },
        ],
      },
      { maxKeys: 2 },
    );
    try {
      const from = (ip: string) => call(gw, '/a', { headers: { 'x-forwarded-for': ip } });
      for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) expect((await from(ip)).status).toBe(200);
      let text = await gw.gateway.metrics.text();
      expect(text).toContain('# TYPE gatehouse_gateway_limiter_local_evictions_total counter');
      expect(text).toContain('gatehouse_gateway_limiter_local_keys 2');
      expect(text).toContain('gatehouse_gateway_limiter_local_evictions_total 1'); // 10.0.0.1, forgiven
      // The dropped key decides as a fresh one (admitted), which turns the generations over once more.
      expect((await from('10.0.0.1')).status).toBe(200);
      expect((await from('10.0.0.3')).status).toBe(429); // still held: still owing
      text = await gw.gateway.metrics.text();
      expect(text).toContain('gatehouse_gateway_limiter_local_evictions_total 2');
      expect(await gw.gateway.metrics.text()).toContain('gatehouse_gateway_limiter_local_evictions_total 2');
    } finally {
      await gw.close();
      await backend.close();
    }
  });

  it('access lines carry upstream_ms when proxied and the User-Agent, cut at 256', async () => {
    /** One request over its own TLS connection, `Connection: close`; resolves with every byte the client received. */
    const rawExchange = (gw: RunningGateway, path: string, agent: string) =>
      new Promise<Buffer>((resolve, reject) => {
        const socket = connect({
          host: '127.0.0.1',
          port: gw.port,
          ca: testCertificate().certPem,
          servername: 'localhost',
        });
        const chunks: Buffer[] = [];
        socket.on('secureConnect', () =>
          socket.write(`GET ${path} HTTP/1.1\r\nhost: localhost\r\nuser-agent: ${agent}\r\nconnection: close\r\n\r\n`),
        );
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.on('end', () => resolve(Buffer.concat(chunks)));
        socket.on('error', reject);
      });
    const { backend, logger, gw } = await limitedGateway();
    try {
      const proxied = await rawExchange(gw, '/a', 'curl/8.0');
      expect(proxied.toString('latin1')).toMatch(/^HTTP\/1\.1 200 /);
      const long = 'x'.repeat(300);
      const refused = await rawExchange(gw, '/b', long);
      expect(refused.toString('latin1')).toMatch(/^HTTP\/1\.1 429 /);
      await new Promise((r) => setImmediate(r));
      const [first, second] = logger.lines.filter((l) => l.msg === 'access');
      expect(first?.['user_agent']).toBe('curl/8.0');
      expect(typeof first?.['upstream_ms']).toBe('number');
      expect(first?.['upstream_ms'] as number).toBeGreaterThanOrEqual(0);
      expect(second?.['upstream_ms']).toBeUndefined(); // answered by the gateway (429), never proxied
      expect(second?.['user_agent']).toBe('x'.repeat(256));
    } finally {
      await gw.close();
      await backend.close();
    }
  });

  it('runs the stages in the documented order, with waf and cache slots', () => {
    expect(STAGE_NAMES).toEqual([
      'request_id',
      'limits',
      'waf',
      'cors',
      'authentication',
      'rate_limit',
      'authorization',
      'cache',
      'shedding',
      'proxy',
    ]);
  });

  it('lets a plugged-in stage answer the request itself (later stages skipped)', async () => {
    const backend = await startBackend();
    const gw = await startGateway(
      { upstreams: [{ name: 'u', hosts: [backend.url] }], routes: [{ name: 'r', pathPrefix: '/', upstream: 'u' }] },
      {
        stages: {
          waf: (ctx) => {
            if (ctx.req.url?.includes('..')) {
              ctx.answered = true;
              ctx.res.writeHead(403).end('blocked');
            }
          },
        },
      },
    );
    try {
      expect((await call(gw, '/a?file=../etc')).status).toBe(403);
      expect(backend.hits).toBe(0);
    } finally {
      await gw.close();
      await backend.close();
    }
  });
});
