import * as grpc from '@grpc/grpc-js';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { systemClock } from '../../src/core/index.js';
import { GatewayMetrics } from '../../src/gateway/gateway_metrics.js';
import { HealthChecker, type CheckedHost } from '../../src/gateway/health_check.js';
import { checkClients } from '../../src/gateway/health_check_dispatch.js';
import { OutlierDetector } from '../../src/gateway/outlier_detector.js';
import { call, gatewayConfig, recordingLogger, startBackend, startGateway } from './support.js';

const CHECK = { path: '/healthz', interval: 1000, timeout: 500, healthyThreshold: 2, unhealthyThreshold: 3 };

/** A host whose checks answer what `answers` holds next (a status, or an error code). */
function scriptedHost(origin: string, answers: Array<number | string>): CheckedHost & { asked: string[] } {
  const asked: string[] = [];
  return {
    origin,
    asked,
    open: () => ({
      send: async (opts) => {
        asked.push(`${opts.method} ${opts.path}`);
        const next = answers.shift() ?? 200;
        if (typeof next === 'string') throw Object.assign(new Error(next), { code: next });
        return { status: next, body: Buffer.alloc(0), trailers: {} };
      },
      destroy: async () => {},
    }),
  };
}

describe('HealthChecker', () => {
  it('takes a host out after unhealthyThreshold failures in a row and back after healthyThreshold successes', async () => {
    const a = scriptedHost('http://a:1', [
      200,
      503,
      'ECONNREFUSED',
      200,
      500,
      503,
      'UND_ERR_HEADERS_TIMEOUT',
      302,
      500,
      204,
      204,
    ]);
    const changes: Array<[number, boolean]> = [];
    const { logger, lines } = recordingLogger();
    const metrics = new GatewayMetrics();
    const checker = new HealthChecker('u', [a], CHECK, {
      logger,
      metrics,
      onChange: (host, healthy) => changes.push([host, healthy]),
    });
    const states: boolean[] = [];
    for (let i = 0; i < 11; i += 1) {
      await checker.round();
      states.push(checker.healthy[0] as boolean);
    }
    // 503, refused: two failures, then a success breaks the streak; 500, 503, timeout: out. 302 (a success), 500
    // (the streak starts again), 204, 204: back.
    expect(states).toEqual([true, true, true, true, true, true, false, false, false, false, true]);
    expect(changes).toEqual([
      [0, false],
      [0, true],
    ]);
    expect(a.asked[0]).toBe('GET /healthz');
    const warn = lines.find((l) => l.event === 'gateway_health_check' && l.healthy === false);
    expect(warn).toMatchObject({ level: 'warn', upstream: 'u', host: 'http://a:1', last: 'UND_ERR_HEADERS_TIMEOUT' });
    const text = await metrics.text();
    expect(text).toMatch(/gatehouse_gateway_health_checks_total\{upstream="u",result="failure"\} 6/);
    expect(text).toMatch(/gatehouse_gateway_health_checks_total\{upstream="u",result="success"\} 5/);
  });

  it('checks nothing once stopped', async () => {
    const a = scriptedHost('http://a:1', []);
    const checker = new HealthChecker('u', [a], CHECK, {
      logger: recordingLogger().logger,
      metrics: new GatewayMetrics(),
      onChange: () => {},
    });
    checker.stop();
    await checker.round();
    expect(a.asked).toEqual([]);
  });
});

describe('OutlierDetector with hosts down', () => {
  it('skips hosts the health checks took out, and uses all of them when every host is out', () => {
    const d = new OutlierDetector(
      3,
      { consecutiveFailures: 5, baseEjection: 30_000, maxEjection: 300_000, maxEjectionPercent: 50 },
      systemClock,
    );
    d.setDown(1, true);
    expect(Array.from({ length: 4 }, () => d.pick())).toEqual([0, 2, 0, 2]);
    d.setDown(0, true);
    d.setDown(2, true);
    expect(new Set(Array.from({ length: 6 }, () => d.pick()))).toEqual(new Set([0, 1, 2])); // panic: all of them
    d.setDown(1, false);
    expect(Array.from({ length: 3 }, () => d.pick())).toEqual([1, 1, 1]);
  });

  it('does not eject the last host the health checks left in', () => {
    const d = new OutlierDetector(
      2,
      { consecutiveFailures: 5, baseEjection: 30_000, maxEjection: 300_000, maxEjectionPercent: 50 },
      systemClock,
    );
    d.setDown(0, true);
    for (let i = 0; i < 5; i += 1) d.report(1, false);
    expect(d.isEjected(1)).toBe(false);
    expect(Array.from({ length: 4 }, () => d.pick())).toEqual([1, 1, 1, 1]);
  });
});

describe('healthCheck in the schema', () => {
  const parse = (upstream: Record<string, unknown>) =>
    configSchema.safeParse({ gateway: { upstreams: [{ name: 'u', hosts: ['http://127.0.0.1:1'], ...upstream }] } });

  it('has defaults, needs a path or grpc (HTTP/2 upstreams), and refuses a timeout over the interval', () => {
    const ok = parse({ healthCheck: { path: '/healthz' } });
    expect(ok.success && ok.data.gateway.upstreams[0]!.healthCheck).toEqual({
      path: '/healthz',
      interval: 10_000,
      timeout: 2_000,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
    });
    expect(parse({ healthCheck: {} }).success).toBe(false);
    expect(parse({ healthCheck: { path: 'healthz' } }).success).toBe(false);
    // HTTP/2 upstreams: a GET over HTTP/2, or the gRPC health protocol; gRPC checks need HTTP/2; one kind per check.
    expect(parse({ healthCheck: { path: '/h' }, protocol: 'h2c' }).success).toBe(true);
    const grpcCheck = parse({ healthCheck: { grpc: {} }, protocol: 'h2c' });
    expect(grpcCheck.success && grpcCheck.data.gateway.upstreams[0]!.healthCheck?.grpc).toEqual({ service: '' });
    expect(parse({ healthCheck: { grpc: {} } }).success).toBe(false);
    expect(parse({ healthCheck: { path: '/h', grpc: {} }, protocol: 'h2c' }).success).toBe(false);
    expect(parse({ healthCheck: { path: '/h', interval: '1s', timeout: '2s' } }).success).toBe(false);
  });
});

describe('an upstream with healthCheck', () => {
  it('checks each host on its own within timeout, a host that never finishes its TLS handshake included', async () => {
    // Accepts TCP and never answers the ClientHello: undici's connect timeout alone would take 10 s.
    const held = new Set<Socket>();
    const hang = createNetServer((socket) => {
      held.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    const sick = await startBackend((req, res) => {
      req.resume();
      res.writeHead(503);
      res.end();
    });
    const gw = await startGateway({
      upstreams: [
        {
          name: 'u',
          hosts: [`https://127.0.0.1:${(hang.address() as AddressInfo).port}`],
          healthCheck: { path: '/healthz', interval: '100ms', timeout: '100ms', unhealthyThreshold: 2 },
        },
        {
          name: 'v',
          hosts: [sick.url],
          healthCheck: { path: '/healthz', interval: '100ms', timeout: '100ms', unhealthyThreshold: 2 },
        },
      ],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'u' }],
    });
    const healthy = async (upstream: string) =>
      new RegExp(`gatehouse_gateway_upstream_host_healthy\\{upstream="${upstream}",host="[^"]+"\\} (\\d)`).exec(
        await gw.gateway.metrics.text(),
      )?.[1];
    try {
      // Two failures each, well before a 10 s connect timeout could have ended one check.
      await expect.poll(() => healthy('u'), { timeout: 4_000, interval: 50 }).toBe('0');
      await expect.poll(() => healthy('v'), { timeout: 4_000, interval: 50 }).toBe('0');
      const metrics = await gw.gateway.metrics.text();
      expect(metrics).toMatch(/gatehouse_gateway_health_checks_total\{upstream="u",result="failure"\} [2-9]/);
    } finally {
      await gw.close();
      await sick.close();
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => {
        hang.close(() => resolve());
      });
    }
  });

  it('stops sending traffic to a host that fails its checks, and sends it again once it passes', async () => {
    const health = { a: 200 };
    const a = await startBackend((req, res) => {
      req.resume();
      const status = req.url === '/healthz' ? health.a : 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ host: 'a', url: req.url }));
    });
    const b = await startBackend((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ host: 'b', url: req.url }));
    });
    const gw = await startGateway({
      upstreams: [
        {
          name: 'u',
          hosts: [a.url, b.url],
          healthCheck: {
            path: '/healthz',
            interval: '50ms',
            timeout: '50ms',
            healthyThreshold: 2,
            unhealthyThreshold: 2,
          },
        },
      ],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'u' }],
    });
    const served = async (n: number) => {
      const hosts: string[] = [];
      for (let i = 0; i < n; i += 1) hosts.push(((await call(gw, `/x/${i}`)).body as { host: string }).host);
      return hosts;
    };
    const gauge = async () =>
      /gatehouse_gateway_upstream_host_healthy\{upstream="u",host="([^"]+)"\} (\d)/g
        .exec(await gw.gateway.metrics.text())
        ?.slice(1)
        .join(' ');
    try {
      expect(new Set(await served(4))).toEqual(new Set(['a', 'b']));
      expect(await gauge()).toBe(`${a.url} 1`);
      health.a = 503;
      await expect.poll(gauge, { timeout: 10_000, interval: 25 }).toBe(`${a.url} 0`);
      expect(await served(6)).toEqual(['b', 'b', 'b', 'b', 'b', 'b']);
      health.a = 200;
      await expect.poll(gauge, { timeout: 10_000, interval: 25 }).toBe(`${a.url} 1`);
      expect(new Set(await served(4))).toEqual(new Set(['a', 'b']));
      const metrics = await gw.gateway.metrics.text();
      expect(metrics).toMatch(/gatehouse_gateway_health_checks_total\{upstream="u",result="failure"\} [2-9]/);
    } finally {
      await gw.close();
      await a.close();
      await b.close();
    }
  });

  it('starts no checks after the gateway closed, whatever a late reload asks', async () => {
    const backend = await startBackend();
    const gw = await startGateway({
      upstreams: [{ name: 'u', hosts: [backend.url] }],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'u' }],
    });
    try {
      await gw.gateway.close();
      gw.gateway.reload(
        gatewayConfig({
          upstreams: [
            { name: 'u', hosts: [backend.url], healthCheck: { path: '/h', interval: '20ms', timeout: '20ms' } },
          ],
          routes: [{ name: 'r', pathPrefix: '/', upstream: 'u' }],
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(backend.hits).toBe(0);
    } finally {
      await gw.close();
      await backend.close();
    }
  });
});

describe('gRPC health checks (grpc.health.v1.Health/Check over h2c)', () => {
  it('passes SERVING, and fails NOT_SERVING, an unknown service and a server without the health service', async () => {
    const statuses: Record<string, number> = { '': 1, orders: 2 };
    const raw = {
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    };
    const health = {
      check: { path: '/grpc.health.v1.Health/Check', requestStream: false, responseStream: false, ...raw },
    };
    const start = async (withHealth: boolean) => {
      const server = new grpc.Server();
      if (withHealth) {
        server.addService(health, {
          check(call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
            // HealthCheckRequest { string service = 1 }: tag 0x0a, a one-byte length, the name
            const service = call.request.length === 0 ? '' : call.request.subarray(2).toString('utf8');
            const status = statuses[service];
            if (status === undefined) done({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
            // HealthCheckResponse { ServingStatus status = 1 } with a field the checker must skip (7: a string)
            else done(null, Buffer.from([0x3a, 0x01, 0x78, 0x08, status]));
          },
        });
      }
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
          e ? reject(e) : resolve(p),
        ),
      );
      return { url: `http://127.0.0.1:${port}`, close: () => server.forceShutdown() };
    };
    const serving = await start(true);
    const bare = await start(false);
    const { logger, lines } = recordingLogger();
    const check = async (url: string, service: string) => {
      const checker = new HealthChecker(
        'u',
        checkClients([url], 1_000, {}, { http2: true }),
        { grpc: { service }, interval: 1_000, timeout: 1_000, healthyThreshold: 1, unhealthyThreshold: 1 },
        { logger, metrics: new GatewayMetrics(), onChange: () => {} },
      );
      await checker.round();
      checker.stop();
      return checker.healthy[0];
    };
    try {
      expect(await check(serving.url, '')).toBe(true);
      expect(await check(serving.url, 'orders')).toBe(false); // NOT_SERVING
      expect(await check(serving.url, 'missing')).toBe(false); // NOT_FOUND
      expect(await check(bare.url, '')).toBe(false); // UNIMPLEMENTED
      const why = lines.filter((l) => l.event === 'gateway_health_check').map((l) => l.last);
      expect(why).toEqual(['serving status 2', 'grpc-status 5', 'grpc-status 12']);
    } finally {
      serving.close();
      bare.close();
    }
  });
});
