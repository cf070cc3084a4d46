// gRPC through the gateway: HTTP/2 clients (grpc-js over TLS) to h2c upstreams (`protocol: h2c`, a grpc-js server and
// a bare node:http2 one): unary and streaming calls, metadata and trailers relayed, the upstream's statuses, the
// gateway's own refusals as Trailers-Only gRPC answers, cancellation, GOAWAY, timeouts, deadlines on HTTP/2, the WAF
// on gRPC and other routes, the breaker's reading of grpc-status, and HTTP/1.1 clients on an h2c upstream.
// gRPC-Web: grpc_web.test.ts; the HTTP/2 exchange at its edges: http2_origin.test.ts.
import * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import {
  connect as h2connect,
  createSecureServer as createSecureH2Server,
  createServer as createH2cServer,
  type IncomingHttpHeaders,
} from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { silentLogger, systemClock } from '../../src/core/index.js';
import { Gateway, GatewayMetrics, isGrpcRequest } from '../../src/gateway/index.js';
import { buildGatewayState } from '../../src/gateway/gateway_state.js';
import { relayedTrailers } from '../../src/mesh/index.js';
import {
  client,
  frame,
  json,
  OrdersClient,
  parse,
  service,
  startGrpcUpstream,
  startH2cUpstream,
  unary,
  type Client,
} from './grpc_support.js';
import {
  recordingLogger,
  startBackend,
  startGateway,
  tableAuthenticator,
  testCertificate,
  type Json,
  type RunningGateway,
} from './support.js';

describe('gRPC through the gateway (HTTP/2 clients, h2c upstreams)', () => {
  let grpcUp: Awaited<ReturnType<typeof startGrpcUpstream>>;
  let h2c: Awaited<ReturnType<typeof startH2cUpstream>>;
  let gw: RunningGateway;
  let c: Client;
  const recorded = recordingLogger();

  beforeAll(async () => {
    grpcUp = await startGrpcUpstream();
    h2c = await startH2cUpstream();
    const grpcWaf = { contentTypes: ['application/grpc'] };
    gw = await startGateway(
      {
        upstreams: [
          { name: 'orders', hosts: [grpcUp.url], protocol: 'h2c' },
          { name: 'plain', hosts: [h2c.url], protocol: 'h2c', timeout: '500ms' },
          { name: 'down', hosts: ['http://127.0.0.1:1'], protocol: 'h2c' },
          { name: 'single', hosts: [grpcUp.url], protocol: 'h2c', maxConcurrent: 1, maxQueue: 0 },
        ],
        routes: [
          {
            name: 'limited',
            pathPrefix: '/test.Orders/Fail',
            upstream: 'orders',
            limits: [{ name: 'per-ip', key: ['ip'], rate: 1, per: '1h', burst: 0 }],
            waf: grpcWaf,
          },
          {
            name: 'private',
            pathPrefix: '/test.Private/',
            upstream: 'orders',
            auth: { kind: 'jwt' },
            grpcWeb: true,
            waf: grpcWaf,
          },
          { name: 'down', pathPrefix: '/test.Down/', upstream: 'down', waf: grpcWaf },
          { name: 'hang', pathPrefix: '/test.Orders/Hang', upstream: 'single', waf: grpcWaf },
          {
            name: 'orders',
            pathPrefix: '/test.Orders/',
            upstream: 'orders',
            grpcWeb: true,
            waf: { contentTypes: ['application/grpc', 'application/grpc-web+proto', 'application/grpc-web-text'] },
          },
          { name: 'plain', pathPrefix: '/', upstream: 'plain' },
        ],
        http2: { enabled: true },
      },
      { logger: recorded.logger, authenticator: tableAuthenticator({}) },
    );
    c = client(gw);
  });
  afterAll(async () => {
    c?.close();
    await gw?.close();
    grpcUp?.close();
    await h2c?.close();
  });

  it('relays a unary call: message, metadata both ways, the upstream trailers, status OK', async () => {
    const md = new grpc.Metadata();
    md.set('x-custom', 'hello');
    md.set('x-gatehouse-sub', 'forged');
    const r = await unary(c, 'echo', { order: 42 }, md);
    expect(r.error).toBeUndefined();
    expect(r.value.got).toEqual({ order: 42 });
    const seen = r.value.metadata as Record<string, string>;
    expect(seen['x-custom']).toBe('hello');
    expect(seen['x-gatehouse-sub']).toBeUndefined(); // caller-sent identity headers are stripped
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-request-id']).toMatch(/./);
    expect(r.headers?.get('x-upstream-header')).toEqual(['yes']);
    expect(r.headers?.get('x-request-id')).toEqual([seen['x-request-id']]);
    expect(r.status?.code).toBe(grpc.status.OK);
    expect(r.status?.metadata.get('x-upstream-trailer')).toEqual(['also']);
    await sleep(50);
    const line = recorded.lines.filter((l) => l.log === 'access' && l.route === 'orders').at(-1);
    expect(line).toMatchObject({ status: 200, grpc_status: grpc.status.OK, http_version: '2.0' });
  });

  it('streams a server-streaming call in order', async () => {
    const call = c.list(json({ n: 200, size: 2_000 }));
    const got: number[] = [];
    call.on('data', (b: Buffer) => got.push(parse(b).i));
    const [status] = (await once(call, 'status')) as [grpc.StatusObject];
    expect(status.code).toBe(grpc.status.OK);
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('streams a client-streaming call without buffering it in the WAF', async () => {
    const result = new Promise<Json>((resolve, reject) => {
      const call = c.sum((err: grpc.ServiceError | null, value?: Buffer) =>
        err ? reject(err) : resolve(parse(value!)),
      );
      for (let i = 1; i <= 50; i++) call.write(json({ n: i }));
      call.end();
    });
    expect(await result).toEqual({ total: 1275, count: 50 });
  });

  it('carries a bidirectional call message by message (an answer before the caller sends the next)', async () => {
    const call = c.chat();
    const replies: string[] = [];
    for (const say of ['one', 'two', 'three']) {
      call.write(json({ say }));
      const [b] = (await once(call, 'data')) as [Buffer];
      replies.push(parse(b).echo);
    }
    call.end();
    const [status] = (await once(call, 'status')) as [grpc.StatusObject];
    expect(replies).toEqual(['one', 'two', 'three']);
    expect(status.code).toBe(grpc.status.OK);
  });

  it("relays the upstream's error status, its message and its trailing metadata", async () => {
    const r = await unary(c, 'fail', {});
    expect(r.error?.code).toBe(grpc.status.NOT_FOUND);
    expect(r.error?.details).toBe('no such order: 42 (ünïcode)');
    expect(r.status?.metadata.get('x-reason')).toEqual(['gone']);
    await sleep(50); // the access line is written off the request path
    const line = recorded.lines.filter((l) => l.log === 'access' && l.route === 'limited').at(-1);
    expect(line).toMatchObject({ status: 200, grpc_status: grpc.status.NOT_FOUND });
  });

  it('keeps the fields a trailer section may not carry (WWW-Authenticate) in the head of a Trailers-Only answer', async () => {
    const r = await unary(c, 'deny', {});
    expect(r.error?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(r.error?.details).toBe('log in again');
    expect(r.headers?.get('www-authenticate')).toEqual(['Bearer realm="orders"']);
    expect(r.status?.metadata.get('x-reason')).toEqual(['token expired']);
  });

  it('refuses a call the WAF blocks on its head, its body still open, as PERMISSION_DENIED', async () => {
    const scanner = new OrdersClient(
      `127.0.0.1:${gw.port}`,
      grpc.credentials.createSsl(Buffer.from(testCertificate().certPem)),
      { 'grpc.ssl_target_name_override': 'localhost', 'grpc.primary_user_agent': 'sqlmap/1.7.2' },
    ) as Client;
    try {
      const error = await new Promise<grpc.ServiceError>((resolve) => {
        const call = scanner.sum((err: grpc.ServiceError | null) => resolve(err!));
        call.write(json({ n: 1 })); // and the stream stays open
      });
      expect(error.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(error.details).toMatch(/^ERR_GATEWAY_WAF_BLOCKED: /);
    } finally {
      scanner.close();
    }
  });

  it('refuses a rate-limited call as RESOURCE_EXHAUSTED, Trailers-Only, with Retry-After and RateLimit', async () => {
    await unary(c, 'fail', {}); // whatever the test before used of the budget: the route admits one call per hour
    const r = await unary(c, 'fail', {});
    expect(r.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(r.error?.details).toMatch(/^ERR_RATE_LIMITED: /);
    const md = r.status!.metadata;
    expect(Number(md.get('retry-after')[0])).toBeGreaterThan(0);
    expect(String(md.get('ratelimit')[0])).toMatch(/^"per-ip";r=0;t=\d+$/);
    expect(md.get('x-request-id')[0]).toMatch(/./);
    await sleep(50); // the access line is written off the request path
    const line = recorded.lines.filter((l) => l.log === 'access' && l.route === 'limited').at(-1);
    expect(line).toMatchObject({ status: 200, grpc_status: grpc.status.RESOURCE_EXHAUSTED, http_version: '2.0' });
  });

  it('refuses a call without credentials as UNAUTHENTICATED, and an unreachable upstream as UNAVAILABLE', async () => {
    const Private = grpc.makeGenericClientConstructor(
      { echo: { ...service.echo, path: '/test.Private/Echo' }, down: { ...service.echo, path: '/test.Down/Echo' } },
      'Private',
    );
    const p = new Private(`127.0.0.1:${gw.port}`, grpc.credentials.createSsl(Buffer.from(testCertificate().certPem)), {
      'grpc.ssl_target_name_override': 'localhost',
    }) as Client;
    try {
      const denied = await unary(p, 'echo', {});
      expect(denied.error?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(denied.status?.metadata.get('www-authenticate')).toEqual(['Bearer realm="gatehouse"']);
      const down = await unary(p, 'down', {});
      expect(down.error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(down.error?.details).toMatch(/^ERR_GATEWAY_UPSTREAM_FAILED: /);
    } finally {
      p.close();
    }
  });

  it('cancels the upstream stream when the caller gives up (deadline), and frees its one slot', async () => {
    // The route's upstream admits one call at a time and queues none: a slot kept by the abandoned call would make
    // the next one UNAVAILABLE (503 ERR_GATEWAY_OVERLOADED) instead of reaching the upstream.
    for (const round of [1, 2]) {
      const r = await unary(c, 'hang', {}, new grpc.Metadata(), 300);
      expect(r.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(grpcUp.seen.hangs).toBe(round);
      await expect.poll(() => grpcUp.seen.cancelled, { timeout: 5_000 }).toBe(round);
    }
  });

  it('serves HTTP/1.1 clients on an h2c upstream: :authority from the origin, te: trailers, trailers relayed', async () => {
    const res = await request(`${gw.url}/items?q=1`, {
      method: 'POST',
      body: 'hello',
      headers: { 'content-type': 'text/plain' },
      dispatcher: gw.agent,
    });
    const body = (await res.body.json()) as Json;
    expect(res.statusCode).toBe(200);
    expect(body).toMatchObject({ path: '/items?q=1', method: 'POST', body: 'hello' });
    expect(body.headers[':authority']).toBe(new URL(h2c.url).host);
    expect(body.headers.te).toBe('trailers');
    expect(body.headers['x-forwarded-proto']).toBe('https');
    // node sends an answer without Content-Length chunked, so the trailer section reaches the HTTP/1.1 client;
    // cookie and authentication fields are not relayed in it.
    expect(res.trailers).toEqual({ 'x-checksum': 'abc' });
  });

  it('cuts the answer (never a complete-looking one) when the upstream stream fails after its fields', async () => {
    const res = await request(`${gw.url}/malformed`, { dispatcher: gw.agent });
    expect(res.statusCode).toBe(200);
    await expect(res.body.text()).rejects.toThrow(/other side closed|terminated/);
  });

  it('opens a new connection after the upstream sends GOAWAY', async () => {
    h2c.state.closeAfter = 1;
    try {
      const sessions = h2c.state.sessions;
      for (let i = 0; i < 3; i++) {
        const res = await request(`${gw.url}/again/${i}`, { dispatcher: gw.agent });
        expect(res.statusCode).toBe(200);
        await res.body.text();
        await sleep(20);
      }
      expect(h2c.state.sessions).toBeGreaterThanOrEqual(sessions + 2);
    } finally {
      h2c.state.closeAfter = Infinity;
    }
  });

  it('answers 504 when the h2c upstream sends no response fields within its timeout', async () => {
    const res = await request(`${gw.url}/slow`, { dispatcher: gw.agent });
    const body = (await res.body.json()) as Json;
    expect(res.statusCode).toBe(504);
    expect(body.code).toBe('ERR_GATEWAY_UPSTREAM_TIMEOUT');
  });
});

describe('gRPC calls longer than http.requestTimeout, and gRPC media types on other routes', () => {
  const recorded = recordingLogger();
  let grpcUp: Awaited<ReturnType<typeof startGrpcUpstream>>;
  let json1: Awaited<ReturnType<typeof startBackend>>;
  let gw: RunningGateway;

  beforeAll(async () => {
    grpcUp = await startGrpcUpstream();
    json1 = await startBackend();
    gw = await startGateway(
      {
        upstreams: [
          { name: 'orders', hosts: [grpcUp.url], protocol: 'h2c' },
          { name: 'json', hosts: [json1.url] },
        ],
        routes: [
          {
            name: 'orders',
            pathPrefix: '/test.Orders/',
            upstream: 'orders',
            waf: { contentTypes: ['application/grpc'] },
          },
          {
            name: 'json-listing-grpc',
            pathPrefix: '/api/grpc-listed',
            upstream: 'json',
            waf: { contentTypes: ['application/json', 'application/grpc'] },
          },
          { name: 'json', pathPrefix: '/api/', upstream: 'json' },
        ],
        http2: { enabled: true },
      },
      {
        http: { requestTimeout: '1s', headersTimeout: '1s', connectionsCheckingInterval: '200ms' },
        logger: recorded.logger,
      },
    );
  });
  afterAll(async () => {
    await gw?.close();
    grpcUp?.close();
    await json1?.close();
  });

  it('lets a bidirectional call outlive requestTimeout while frames flow, and ends one silent for longer', async () => {
    const c = client(gw);
    try {
      const call = c.chat();
      const replies: string[] = [];
      for (let i = 0; i < 6; i++) {
        call.write(json({ say: `m${i}` }));
        const [b] = (await once(call, 'data')) as [Buffer];
        replies.push(parse(b).echo);
        await sleep(300); // 6 × 300 ms: well past the 1 s requestTimeout in all, never 1 s without a frame
      }
      call.end();
      const [status] = (await once(call, 'status')) as [grpc.StatusObject];
      expect(status.code).toBe(grpc.status.OK);
      expect(replies).toHaveLength(6);
      const silent = await new Promise<grpc.ServiceError>((resolve) => {
        const sum = c.sum((err: grpc.ServiceError | null) => resolve(err!));
        sum.write(json({ n: 1 })); // then nothing: no frame for longer than requestTimeout
      });
      expect(silent.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(silent.details).toMatch(/^ERR_HTTP_REQUEST_TIMEOUT: /);
    } finally {
      c.close();
    }
  });

  it('holds a gRPC media type on a route without a gRPC upstream to the whole requestTimeout (no slow-body escape)', async () => {
    const session = h2connect(gw.url, { ca: testCertificate().certPem, servername: 'localhost' });
    session.on('error', () => {});
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/api/grpc-listed',
        'content-type': 'application/grpc',
      });
      stream.on('error', () => {});
      let fields: IncomingHttpHeaders | undefined;
      stream.on('response', (h) => (fields = h));
      stream.resume();
      // a byte every 300 ms: never 1 s without a frame, yet the whole body never arrives
      for (let i = 0; i < 20 && fields === undefined && !stream.closed; i++) {
        stream.write(Buffer.from([0]));
        await sleep(300);
      }
      expect(fields?.['grpc-status']).toBe(String(grpc.status.DEADLINE_EXCEEDED));
      expect(decodeURIComponent(String(fields?.['grpc-message']))).toMatch(/^ERR_HTTP_REQUEST_TIMEOUT: /);
    } finally {
      session.destroy();
    }
  });

  it('keeps the body rules on routes whose upstream does not speak gRPC, whatever the media type says', async () => {
    const attack = JSON.stringify({ q: "1' OR '1'='1' UNION SELECT password FROM users --" });
    for (const [path, type, rule] of [
      ['/api/items', 'application/grpc+json', 'content_type_not_allowed'], // +json is JSON, but not gRPC's
      ['/api/grpc-listed', 'application/grpc', 'sqli'], // listed, yet read: the upstream is no gRPC service
    ] as const) {
      const res = await request(`${gw.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: attack,
        dispatcher: gw.agent,
      });
      await res.body.text();
      // A gRPC media type gets its refusal in gRPC's terms, on any route (PERMISSION_DENIED for a 403).
      expect([path, res.statusCode, res.headers['grpc-status']]).toEqual([
        path,
        200,
        String(grpc.status.PERMISSION_DENIED),
      ]);
      expect(decodeURIComponent(String(res.headers['grpc-message']))).toMatch(/^ERR_GATEWAY_WAF_BLOCKED: /);
      await sleep(50); // the WAF's log line names the rule
      expect(recorded.lines.filter((l) => l.event === 'gateway_waf').at(-1)?.rule).toBe(rule);
    }
    expect(json1.hits).toBe(0);
  });
});

describe("the breaker and outlier detection read a gRPC answer's status", () => {
  it('opens on UNAVAILABLE answers (HTTP 200 on the wire), not on the caller-side NOT_FOUND', async () => {
    const up = await startGrpcUpstream();
    const breaker = { consecutiveFailures: 3, openDuration: '60s' };
    const gw = await startGateway({
      upstreams: [
        { name: 'flaky', hosts: [up.url], protocol: 'h2c', breaker },
        { name: 'strict', hosts: [up.url], protocol: 'h2c', breaker },
      ],
      routes: [
        {
          name: 'fail',
          pathPrefix: '/test.Orders/Fail',
          upstream: 'strict',
          waf: { contentTypes: ['application/grpc'] },
        },
        { name: 'orders', pathPrefix: '/test.Orders/', upstream: 'flaky', waf: { contentTypes: ['application/grpc'] } },
      ],
      http2: { enabled: true },
    });
    const c = client(gw);
    try {
      for (let i = 0; i < 5; i++) expect((await unary(c, 'fail', {})).error?.code).toBe(grpc.status.NOT_FOUND);
      expect(up.seen.fails).toBe(5); // NOT_FOUND is the caller's: the breaker stays closed
      for (let i = 0; i < 3; i++) {
        const r = await unary(c, 'down', {});
        expect([r.error?.code, r.error?.details]).toEqual([grpc.status.UNAVAILABLE, 'backend store unreachable']);
      }
      const shed = await unary(c, 'down', {});
      expect(shed.error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(shed.error?.details).toMatch(/^ERR_CIRCUIT_OPEN: /); // the gateway's answer: the upstream was not asked
      expect(Number(shed.status?.metadata.get('retry-after')[0])).toBeGreaterThan(0);
      expect(up.seen.downs).toBe(3);
      const metrics = await gw.gateway.metrics.registry.metrics();
      expect(metrics).toContain('gatehouse_gateway_grpc_calls_total{route="fail",grpc_status="5"} 5');
      expect(metrics).toContain('gatehouse_gateway_grpc_calls_total{route="orders",grpc_status="14"} 4');
    } finally {
      c.close();
      await gw.close();
      up.close();
    }
  });
});

describe('a gRPC answer that ends without a grpc-status', () => {
  it('counts as a failure (UNKNOWN to its client, a 500), for the breaker and the metrics', async () => {
    // An h2c upstream whose gRPC answers end after their message, with no trailers (a server that crashed mid-call).
    const server = createH2cServer();
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      stream.resume();
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
        stream.end(frame({ id: 'x' }));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const gw = await startGateway({
      upstreams: [
        { name: 'bare', hosts: [url], protocol: 'h2c', breaker: { consecutiveFailures: 3, openDuration: '60s' } },
      ],
      routes: [{ name: 'bare', pathPrefix: '/', upstream: 'bare', waf: { contentTypes: ['application/grpc'] } }],
      http2: { enabled: true },
    });
    const c = client(gw);
    try {
      for (let i = 0; i < 3; i++) expect((await unary(c, 'echo', {})).error?.code).not.toBe(grpc.status.OK);
      const shed = await unary(c, 'echo', {});
      expect(shed.error?.details).toMatch(/^ERR_CIRCUIT_OPEN: /); // three failures in a row opened it
      const metrics = await gw.gateway.metrics.registry.metrics();
      expect(metrics).toContain('gatehouse_gateway_upstream_responses_total{upstream="bare",class="5xx"} 3');
    } finally {
      c.close();
      await gw.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('TLS to upstreams: protocol h2, and caFile for h2 and http/1.1', () => {
  const readFile = (file: string) => readFileSync(file, 'utf8');

  it('trusts the caFile it is given: a gRPC call over h2, and an HTTP/1.1 request, to self-signed upstreams', async () => {
    const { certPem, keyPem } = testCertificate({ fresh: true });
    const dir = mkdtempSync(join(tmpdir(), 'gh-cafile-'));
    const caFile = join(dir, 'upstream-ca.pem');
    writeFileSync(caFile, certPem);
    const grpcTls = createSecureH2Server({ cert: certPem, key: keyPem });
    grpcTls.on('stream', (stream, headers) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () =>
        stream.sendTrailers({ 'grpc-status': '0', 'x-scheme': String(headers[':scheme']) }),
      );
      stream.end(frame({ got: 'over h2' }));
    });
    const h1Tls = createHttpsServer({ cert: certPem, key: keyPem }, (_req, res) => res.end('over https'));
    for (const srv of [grpcTls, h1Tls]) srv.listen(0, '127.0.0.1');
    await Promise.all([once(grpcTls, 'listening'), once(h1Tls, 'listening')]);
    const port = (srv: { address(): unknown }) => (srv.address() as { port: number }).port;
    const gw = await startGateway(
      {
        upstreams: [
          { name: 'grpcs', hosts: [`https://127.0.0.1:${port(grpcTls)}`], protocol: 'h2', caFile },
          { name: 'https', hosts: [`https://127.0.0.1:${port(h1Tls)}`], caFile },
        ],
        routes: [
          {
            name: 'grpcs',
            pathPrefix: '/test.Orders/',
            upstream: 'grpcs',
            waf: { contentTypes: ['application/grpc'] },
          },
          { name: 'https', pathPrefix: '/', upstream: 'https' },
        ],
        http2: { enabled: true },
      },
      { readFile },
    );
    const c = client(gw);
    try {
      const r = await unary(c, 'echo', {});
      expect(r.error).toBeUndefined();
      expect(r.value).toEqual({ got: 'over h2' });
      expect(r.status?.metadata.get('x-scheme')).toEqual(['https']);
      const res = await request(`${gw.url}/page`, { dispatcher: gw.agent });
      expect([res.statusCode, await res.body.text()]).toEqual([200, 'over https']);
    } finally {
      c.close();
      await gw.close();
      grpcTls.close();
      h1Tls.closeAllConnections();
      h1Tls.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps an upstream (and its connections) across a reload while its caFile reads the same, not once it changes', async () => {
    const a = testCertificate().certPem;
    const b = testCertificate({ fresh: true }).certPem;
    let content = a;
    const deps = { clock: systemClock, logger: silentLogger, metrics: new GatewayMetrics(), readFile: () => content };
    const config = configSchema.parse({
      gateway: { upstreams: [{ name: 'u', hosts: ['https://127.0.0.1:1'], caFile: 'ca.pem' }] },
    }).gateway;
    const first = buildGatewayState(config, undefined, deps).state;
    const same = buildGatewayState(config, first, deps);
    expect(same.state.upstreams.get('u')).toBe(first.upstreams.get('u'));
    content = b; // rotated in place, same file name
    const rotated = buildGatewayState(config, same.state, deps);
    expect(rotated.state.upstreams.get('u')).not.toBe(first.upstreams.get('u'));
    expect(rotated.retired).toEqual([first.upstreams.get('u')]);
    await Promise.all([...rotated.state.upstreams.values(), ...rotated.retired].map((u) => u.close()));
  });

  it('refuses a caFile it cannot use, naming the key (unreadable, not PEM, no file reader, http:// hosts, mtls)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-cafile-'));
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate');
    try {
      const build = (caFile: string, read?: (f: string) => string) => {
        const config = configSchema.parse({
          gateway: { upstreams: [{ name: 'u', hosts: ['https://127.0.0.1:1'], caFile }] },
        });
        return () =>
          new Gateway({
            clock: systemClock,
            logger: silentLogger,
            config: config.gateway,
            ...(read ? { readFile: read } : {}),
          });
      };
      expect(build(join(dir, 'missing.pem'), readFile)).toThrow(
        /gateway\.upstreams\.0\.caFile: cannot read .*missing\.pem/,
      );
      expect(build(junk, readFile)).toThrow(/gateway\.upstreams\.0\.caFile: .*junk\.pem holds no PEM certificate/);
      expect(build(junk)).toThrow(/gateway\.upstreams\.0\.caFile: .*this gateway reads no files/);
      const plain = configSchema.safeParse({
        gateway: { upstreams: [{ name: 'u', hosts: ['http://127.0.0.1:1'], caFile: junk }] },
      });
      expect(JSON.stringify(plain.error?.issues)).toMatch(/"hosts",0\].*caFile applies to https:\/\/ hosts only/);
      const mtls = configSchema.safeParse({
        gateway: {
          upstreams: [
            { name: 'u', hosts: ['https://127.0.0.1:1'], caFile: junk, mtls: { spiffeId: 'spiffe://td/ns/a/sa/b' } },
          ],
        },
      });
      expect(JSON.stringify(mtls.error?.issues)).toMatch(/"caFile"\].*mesh bundle/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an upstream whose certificate does not chain to the trust store (502, UNAVAILABLE), never sends', async () => {
    const { certPem, keyPem } = testCertificate({ fresh: true });
    let streams = 0;
    const tls = createSecureH2Server({ cert: certPem, key: keyPem });
    tls.on('stream', (stream) => {
      streams += 1;
      stream.respond({ ':status': 200 }, { endStream: true });
    });
    tls.listen(0, '127.0.0.1');
    await once(tls, 'listening');
    const gw = await startGateway({
      upstreams: [
        { name: 'secure', hosts: [`https://127.0.0.1:${(tls.address() as { port: number }).port}`], protocol: 'h2' },
      ],
      routes: [{ name: 'secure', pathPrefix: '/', upstream: 'secure', waf: { contentTypes: ['application/grpc'] } }],
      http2: { enabled: true },
    });
    const c = client(gw);
    try {
      const r = await unary(c, 'echo', {});
      expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(r.error?.details).toMatch(/^ERR_GATEWAY_UPSTREAM_FAILED: /);
      expect(streams).toBe(0);
    } finally {
      c.close();
      await gw.close();
      tls.close();
    }
  });
});

describe('gRPC helpers and h2c configuration', () => {
  it('recognises gRPC content types (not gRPC-Web)', () => {
    expect(isGrpcRequest({ 'content-type': 'application/grpc' })).toBe(true);
    expect(isGrpcRequest({ 'content-type': 'application/grpc+proto' })).toBe(true);
    expect(isGrpcRequest({ 'content-type': 'Application/GRPC;charset=utf-8' })).toBe(true);
    expect(isGrpcRequest({ 'content-type': 'application/grpc-web' })).toBe(false);
    expect(isGrpcRequest({ 'content-type': 'application/grpcx' })).toBe(false);
    expect(isGrpcRequest({ 'content-type': 'application/json' })).toBe(false);
    expect(isGrpcRequest({})).toBe(false);
  });

  it('relays trailer fields but not framing, cookies, authentication or hop-by-hop ones', () => {
    expect(relayedTrailers({})).toBeUndefined();
    expect(relayedTrailers(undefined)).toBeUndefined();
    expect(
      relayedTrailers({
        'grpc-status': '0',
        'grpc-message': 'ok',
        'content-length': '1',
        'set-cookie': ['a=1'],
        'www-authenticate': 'Basic',
        connection: 'close',
        trailer: 'x',
      }),
    ).toEqual({ 'grpc-status': '0', 'grpc-message': 'ok' });
  });

  it('refuses h2c upstreams with https:// hosts or mtls, WebSocket routes to them, gRPC-Web routes to others', () => {
    const parse = (upstream: object) =>
      configSchema.safeParse({ gateway: { upstreams: [{ name: 'u', ...upstream }] } });
    const tls = parse({ hosts: ['http://127.0.0.1:1', 'https://127.0.0.1:2'], protocol: 'h2c' });
    expect(tls.success).toBe(false);
    expect(JSON.stringify(tls.error?.issues)).toMatch(/"path":\["gateway","upstreams",0,"hosts",1\].*h2c needs http/);
    const mtls = parse({
      hosts: ['https://127.0.0.1:2'],
      protocol: 'h2c',
      mtls: { spiffeId: 'spiffe://td/ns/a/sa/b' },
    });
    expect(mtls.success).toBe(false);
    expect(JSON.stringify(mtls.error?.issues)).toMatch(/"mtls"\].*h2c is plaintext/);
    const plainH2 = parse({ hosts: ['https://127.0.0.1:2', 'http://127.0.0.1:3'], protocol: 'h2' });
    expect(JSON.stringify(plainH2.error?.issues)).toMatch(/"hosts",1\].*h2 needs https:/);
    const config = configSchema.parse({
      gateway: {
        upstreams: [{ name: 'u', hosts: ['http://127.0.0.1:1'], protocol: 'h2c' }],
        routes: [{ name: 'ws', pathPrefix: '/ws/', upstream: 'u', websocket: true }],
      },
    });
    expect(() => new Gateway({ clock: systemClock, logger: silentLogger, config: config.gateway })).toThrow(
      /gateway\.routes\.0\.websocket: route ws carries WebSocket handshakes .* which speaks HTTP\/2/,
    );
    const web = configSchema.parse({
      gateway: {
        upstreams: [{ name: 'u', hosts: ['http://127.0.0.1:1'] }],
        routes: [{ name: 'web', pathPrefix: '/', upstream: 'u', grpcWeb: true }],
      },
    });
    expect(() => new Gateway({ clock: systemClock, logger: silentLogger, config: web.gateway })).toThrow(
      /gateway\.routes\.0\.grpcWeb: route web translates gRPC-Web to gRPC, which upstream u does not speak/,
    );
  });
});
