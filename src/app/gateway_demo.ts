import { createServer } from 'node:http';
import { configSchema } from '../config/index.js';
import type { GatewayConfig } from '../gateway/index.js';

/** The demo backend behind `/demo/` in `gatehouse up`. */
export interface DemoBackend {
  url: string;
  close(): Promise<void>;
}

/**
 * A tiny plain-HTTP service on 127.0.0.1 (port 0) that answers every request with JSON naming the caller the gateway
 * verified (from the `x-gatehouse-*` headers), so `curl` through the gateway shows what the upstream receives.
 *
 * @example
 * const demo = await startDemoBackend();
 * // GET https://127.0.0.1:8446/demo/hello → {"message":"hello from the gatehouse demo backend", ...}
 */
export async function startDemoBackend(): Promise<DemoBackend> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const h = req.headers;
      const body = JSON.stringify({
        message: 'hello from the gatehouse demo backend',
        method: req.method,
        path: req.url,
        sub: h['x-gatehouse-sub'] ?? null,
        client_id: h['x-gatehouse-client-id'] ?? null,
        key_id: h['x-gatehouse-key-id'] ?? null,
        request_id: h['x-request-id'] ?? null,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The demo route's limit per API key: 1000 req/s with a burst of 100. */
const DEMO_LIMIT = { key: ['api_key'], rate: 1000, per: '1s', burst: 100 };

/**
 * The gateway section with the demo upstream and the `/demo/` route added (API key with scope `demo`, 1000 req/s
 * per key with burst 100), unless the configuration already has a route or upstream named `demo`. With `redis`
 * (`redis.url` is set, replicas share Redis) the two tiers of a mesh: `per-key` is the global limit, counted in Redis
 * and shared by every gateway on it, and `per-key-local` the same limit in process, the burst limit that keeps a
 * flood from one key off Redis (and still limits each gateway while Redis is down, the global tier failing open).
 * Without Redis, `per-key` alone, in process.
 *
 * @example
 * gateway.reload(withDemoRoute(config.gateway, demo.url, { redis: config.redis.url !== undefined }));
 */
export function withDemoRoute(gateway: GatewayConfig, demoUrl: string, options: { redis: boolean }): GatewayConfig {
  if (gateway.routes.some((r) => r.name === 'demo') || gateway.upstreams.some((u) => u.name === 'demo')) return gateway;
  const limits = options.redis
    ? [
        { name: 'per-key', ...DEMO_LIMIT, tier: 'global' },
        { name: 'per-key-local', ...DEMO_LIMIT, tier: 'local' },
      ]
    : [{ name: 'per-key', ...DEMO_LIMIT, tier: 'local' }];
  const demo = configSchema.parse({
    gateway: {
      upstreams: [{ name: 'demo', hosts: [demoUrl], connections: 16, timeout: '10s' }],
      routes: [
        {
          name: 'demo',
          pathPrefix: '/demo/',
          upstream: 'demo',
          auth: { kind: 'api_key', scopes: ['demo'] },
          limits,
        },
      ],
    },
  }).gateway;
  const upstream = demo.upstreams[0] as GatewayConfig['upstreams'][number];
  const route = demo.routes[0] as GatewayConfig['routes'][number];
  return { ...gateway, upstreams: [...gateway.upstreams, upstream], routes: [...gateway.routes, route] };
}
