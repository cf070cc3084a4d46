// gRPC through the gateway: HTTP/2 clients (grpc-js over TLS) to h2c upstreams (`protocol: h2c`, a grpc-js server and
// a bare node:http2 one): unary and streaming calls, metadata and trailers relayed, the upstream's statuses, the
// gateway's own refusals as Trailers-Only gRPC answers, cancellation, GOAWAY, timeouts, and HTTP/1.1 clients on an
// h2c upstream.
import * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import {
  connect as h2connect,
  createServer as createH2cServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer as createNetServer, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { Gateway, isGrpcRequest } from '../../src/gateway/index.js';
import { base64Decoder, GrpcWebAnswer, grpcWebCall } from '../../src/gateway/grpc_web.js';
import { relayedTrailers } from '../../src/mesh/index.js';
import { silentLogger, systemClock, upstreamFailureKind } from '../../src/core/index.js';
import { H2cOrigin } from '../../src/gateway/h2c_origin.js';
import {
  recordingLogger,
  startBackend,
  startGateway,
  tableAuthenticator,
  testCertificate,
  type Json,
  type RunningGateway,
} from './support.js';

const raw = {
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};
/** A service without a .proto: messages are raw bytes (JSON text here). */
const service = {
  echo: { path: '/test.Orders/Echo', requestStream: false, responseStream: false, ...raw },
  list: { path: '/test.Orders/List', requestStream: false, responseStream: true, ...raw },
  sum: { path: '/test.Orders/Sum', requestStream: true, responseStream: false, ...raw },
  early: { path: '/test.Orders/Early', requestStream: true, responseStream: false, ...raw },
  chat: { path: '/test.Orders/Chat', requestStream: true, responseStream: true, ...raw },
  fail: { path: '/test.Orders/Fail', requestStream: false, responseStream: false, ...raw },
  deny: { path: '/test.Orders/Deny', requestStream: false, responseStream: false, ...raw },
  down: { path: '/test.Orders/Down', requestStream: false, responseStream: false, ...raw },
  hang: { path: '/test.Orders/Hang', requestStream: false, responseStream: false, ...raw },
} satisfies grpc.ServiceDefinition;
const OrdersClient = grpc.makeGenericClientConstructor(service, 'Orders');
type Client = InstanceType<typeof OrdersClient> & Record<string, Json>;

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const parse = (b: Buffer): Json => JSON.parse(b.toString('utf8'));

/** The upstream gRPC service (plaintext HTTP/2: h2c), recording what it saw. */
async function startGrpcUpstream() {
  const seen = { cancelled: 0, hangs: 0, downs: 0, fails: 0 };
  const server = new grpc.Server();
  server.addService(service, {
    echo(call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
      const md = new grpc.Metadata();
      md.set('x-upstream-header', 'yes');
      call.sendMetadata(md);
      const trailer = new grpc.Metadata();
      trailer.set('x-upstream-trailer', 'also');
      done(null, json({ got: parse(call.request), metadata: call.metadata.getMap() }), trailer);
    },
    list(call: grpc.ServerWritableStream<Buffer, Buffer>) {
      const { n, size } = parse(call.request);
      for (let i = 0; i < n; i++) call.write(json({ i, pad: 'x'.repeat(size) }));
      call.end();
    },
    early(call: grpc.ServerReadableStream<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
      // answers at the first message, the caller's stream still open
      call.once('data', () => done({ code: grpc.status.INVALID_ARGUMENT, details: 'first message refused' }));
    },
    sum(call: grpc.ServerReadableStream<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
      let total = 0;
      let count = 0;
      call.on('data', (b: Buffer) => ((total += parse(b).n), (count += 1)));
      call.on('end', () => done(null, json({ total, count })));
    },
    chat(call: grpc.ServerDuplexStream<Buffer, Buffer>) {
      call.on('data', (b: Buffer) => call.write(json({ echo: parse(b).say })));
      call.on('end', () => call.end());
    },
    fail(_call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
      seen.fails += 1;
      const md = new grpc.Metadata();
      md.set('x-reason', 'gone');
      done({ code: grpc.status.NOT_FOUND, details: 'no such order: 42 (ünïcode)', metadata: md });
    },
    deny(_call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
      const md = new grpc.Metadata();
      md.set('www-authenticate', 'Bearer realm="orders"');
      md.set('x-reason', 'token expired');
      done({ code: grpc.status.UNAUTHENTICATED, details: 'log in again', metadata: md });
    },
    down(_call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) {
      seen.downs += 1;
      done({ code: grpc.status.UNAVAILABLE, details: 'backend store unreachable' });
    },
    hang(call: grpc.ServerUnaryCall<Buffer, Buffer>) {
      seen.hangs += 1;
      call.on('cancelled', () => (seen.cancelled += 1));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { url: `http://127.0.0.1:${port}`, seen, close: () => server.forceShutdown() };
}

/** A bare node:http2 h2c server (non-gRPC answers with trailers), closing each connection after `closeAfter` streams. */
async function startH2cUpstream() {
  const state = { sessions: 0, closeAfter: Infinity, streams: 0 };
  const server: Http2Server = createH2cServer();
  server.on('session', (s: ServerHttp2Session) => {
    state.sessions += 1;
    let n = 0;
    s.on('stream', () => {
      n += 1;
      if (n >= state.closeAfter) setImmediate(() => s.close()); // GOAWAY after this stream
    });
  });
  server.on('stream', (stream, headers) => {
    state.streams += 1;
    if (headers[':path'] === '/slow') return; // never answers
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (body += c));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/json' }, { waitForTrailers: true });
      stream.on('wantTrailers', () =>
        stream.sendTrailers(
          headers[':path'] === '/malformed'
            ? { 'content-length': '999' } // forbidden in trailers: the client's HTTP/2 layer resets the stream
            : { 'x-checksum': 'abc', 'set-cookie': 'evil=1', 'www-authenticate': 'Basic' },
        ),
      );
      const seen = { ...headers };
      stream.end(JSON.stringify({ path: headers[':path'], method: headers[':method'], headers: seen, body }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function client(gw: RunningGateway): Client {
  return new OrdersClient(`127.0.0.1:${gw.port}`, grpc.credentials.createSsl(Buffer.from(testCertificate().certPem)), {
    'grpc.ssl_target_name_override': 'localhost',
    'grpc.default_authority': 'localhost',
  }) as Client;
}

/** A unary call: the answer or the error, with the response metadata and the status's metadata. */
function unary(c: Client, method: string, body: unknown, metadata = new grpc.Metadata(), deadlineMs = 10_000) {
  return new Promise<{ value?: Json; error?: grpc.ServiceError; headers?: grpc.Metadata; status?: grpc.StatusObject }>(
    (resolve) => {
      const out: { value?: Json; error?: grpc.ServiceError; headers?: grpc.Metadata; status?: grpc.StatusObject } = {};
      const call = c[method](
        json(body),
        metadata,
        { deadline: Date.now() + deadlineMs },
        (error: grpc.ServiceError | null, value?: Buffer) => {
          if (error) out.error = error;
          if (value) out.value = parse(value);
        },
      );
      call.on('metadata', (md: grpc.Metadata) => (out.headers = md));
      call.on('status', (status: grpc.StatusObject) => {
        out.status = status;
        setImmediate(() => resolve(out));
      });
    },
  );
}

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

/** A gRPC length-prefixed message frame. */
function frame(message: unknown): Buffer {
  const body = json(message);
  const out = Buffer.alloc(5 + body.length);
  out.writeUInt32BE(body.length, 1);
  body.copy(out, 5);
  return out;
}

/** The frames of a gRPC-Web body: data messages (JSON) and the trailer frame's fields. */
function webFrames(body: Buffer): { messages: Json[]; trailers: Record<string, string> | undefined } {
  const messages: Json[] = [];
  let trailers: Record<string, string> | undefined;
  for (let i = 0; i < body.length;) {
    const flag = body[i]!;
    const len = body.readUInt32BE(i + 1);
    const payload = body.subarray(i + 5, i + 5 + len);
    i += 5 + len;
    if (flag & 0x80) {
      trailers = {};
      for (const line of payload.toString('latin1').split('\r\n').filter(Boolean)) {
        const at = line.indexOf(':');
        trailers[line.slice(0, at)] = line.slice(at + 1).trim();
      }
    } else messages.push(parse(payload));
  }
  return { messages, trailers };
}

/** One gRPC-Web call over HTTP/1.1 (what a browser's fetch sends); text mode base64-encodes both ways. */
async function webCall(gw: RunningGateway, path: string, body: Buffer | string, text = false) {
  const res = await request(`${gw.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': text ? 'application/grpc-web-text' : 'application/grpc-web+proto',
      'x-grpc-web': '1',
      accept: text ? 'application/grpc-web-text' : 'application/grpc-web+proto',
    },
    body: typeof body === 'string' ? body : text ? body.toString('base64') : body,
    dispatcher: gw.agent,
  });
  const raw = Buffer.from(await res.body.arrayBuffer());
  const bytes = text ? Buffer.from(raw.toString('latin1'), 'base64') : raw;
  return { status: res.statusCode, headers: res.headers, ...webFrames(bytes) };
}

describe('gRPC-Web through the gateway (route grpcWeb: true, HTTP/1.1 clients)', () => {
  let grpcUp: Awaited<ReturnType<typeof startGrpcUpstream>>;
  let gw: RunningGateway;

  beforeAll(async () => {
    grpcUp = await startGrpcUpstream();
    gw = await startGateway(
      {
        upstreams: [{ name: 'orders', hosts: [grpcUp.url], protocol: 'h2c' }],
        routes: [
          {
            name: 'private',
            pathPrefix: '/test.Private/',
            upstream: 'orders',
            auth: { kind: 'jwt' },
            grpcWeb: true,
            waf: { contentTypes: ['application/grpc-web+proto'] },
          },
          {
            name: 'orders',
            pathPrefix: '/test.Orders/',
            upstream: 'orders',
            grpcWeb: true,
            waf: { contentTypes: ['application/grpc-web+proto', 'application/grpc-web-text'] },
          },
        ],
      },
      { authenticator: tableAuthenticator({}) },
    );
  });
  afterAll(async () => {
    await gw?.close();
    grpcUp?.close();
  });

  it('translates a unary call: gRPC-Web media type, the trailers as a trailer frame in the body', async () => {
    const r = await webCall(gw, '/test.Orders/Echo', frame({ order: 7 }));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/grpc-web+proto');
    expect(r.headers['x-upstream-header']).toBe('yes');
    expect(r.messages).toHaveLength(1);
    expect(r.messages[0].got).toEqual({ order: 7 });
    expect(r.trailers).toMatchObject({ 'grpc-status': '0', 'x-upstream-trailer': 'also' });
  });

  it('translates text calls both ways, the request padded per message (= mid-stream) as grpc-web clients send it', async () => {
    const body = [1, 2, 3].map((n) => frame({ n, p: 'a' }).toString('base64')).join(''); // 20-byte frames
    expect(body.slice(0, -1)).toContain('='); // padding inside the stream, not only at its end
    const r = await webCall(gw, '/test.Orders/Sum', body, true);
    expect(r.headers['content-type']).toBe('application/grpc-web-text+proto');
    expect(r.messages).toEqual([{ total: 6, count: 3 }]);
    expect(r.trailers?.['grpc-status']).toBe('0');
    const listed = await webCall(gw, '/test.Orders/List', frame({ n: 25, size: 1_001 }), true);
    expect(listed.messages.map((m) => m.i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(listed.trailers?.['grpc-status']).toBe('0');
  });

  it("carries an upstream's error (a Trailers-Only answer) in the trailer frame", async () => {
    const r = await webCall(gw, '/test.Orders/Fail', frame({}));
    expect(r.status).toBe(200);
    expect(r.messages).toEqual([]);
    expect(r.trailers).toEqual({
      'grpc-status': String(grpc.status.NOT_FOUND),
      'grpc-message': expect.stringMatching(/%C3%BCn%C3%AFcode/),
      'x-reason': 'gone',
    });
    expect(decodeURIComponent(r.trailers!['grpc-message']!)).toBe('no such order: 42 (ünïcode)');
    expect(r.headers.date).toMatch(/GMT$/); // an HTTP field of the Trailers-Only block stays a response field
  });

  it("answers the gateway's refusals and a malformed text body in gRPC-Web's terms", async () => {
    const denied = await webCall(gw, '/test.Private/Echo', frame({}));
    expect(denied.status).toBe(200);
    expect(denied.headers['content-type']).toBe('application/grpc-web+proto');
    expect(denied.headers['grpc-status']).toBe(String(grpc.status.UNAUTHENTICATED));
    const bad = await webCall(gw, '/test.Orders/Echo', 'AAAAAAJ7fQ', true); // 10 characters: not whole quanta
    expect(bad.status).toBe(200);
    expect(bad.headers['grpc-status']).toBe(String(grpc.status.INTERNAL));
    expect(decodeURIComponent(String(bad.headers['grpc-message']))).toMatch(/^ERR_HTTP_BAD_REQUEST: /);
    for (const junk of ['!!!!', 'AAAA!!!!', 'QQ=A']) {
      const refused = await webCall(gw, '/test.Orders/Echo', junk, true); // whole quanta, not base64
      expect(refused.headers['grpc-status']).toBe(String(grpc.status.INTERNAL));
    }
    // the client's fault: the next call goes through (no breaker failure, no ejected host)
    expect((await webCall(gw, '/test.Orders/Echo', frame({ again: true }))).trailers?.['grpc-status']).toBe('0');
  });

  it('passes other requests on a grpcWeb route unchanged (a plain gRPC client)', async () => {
    const h2gw = await startGateway(
      {
        upstreams: [{ name: 'orders', hosts: [grpcUp.url], protocol: 'h2c' }],
        routes: [{ name: 'orders', pathPrefix: '/', upstream: 'orders', grpcWeb: true, waf: { mode: 'off' } }],
        http2: { enabled: true },
      },
      {},
    );
    const c = client(h2gw);
    try {
      const r = await unary(c, 'echo', { plain: true });
      expect(r.value.got).toEqual({ plain: true });
      expect(r.status?.metadata.get('x-upstream-trailer')).toEqual(['also']);
    } finally {
      c.close();
      await h2gw.close();
    }
  });
});

describe('h2c exchanges at their edges (H2cOrigin driven directly)', () => {
  type Outcome = { status?: number; chunks: number; end?: IncomingHttpHeaders; error?: Error & { code?: string } };
  /** A dispatch handler recording what happened; `onData` may pause the exchange. */
  function recorder(onData?: (controller: Dispatcher.DispatchController) => void) {
    const out: Outcome = { chunks: 0 };
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    const handler: Dispatcher.DispatchHandler = {
      onResponseStart: (_c, status) => (out.status = status),
      onResponseData: (c) => {
        out.chunks += 1;
        onData?.(c);
      },
      onResponseEnd: (_c, trailers) => ((out.end = trailers), settle()),
      onResponseError: (_c, err) => ((out.error = err), settle()),
    };
    return { out, done, handler };
  }
  async function h2cServer(onStream: (stream: ServerHttp2Stream) => void) {
    const server = createH2cServer();
    const sessions: ServerHttp2Session[] = [];
    server.on('session', (sess) => sessions.push(sess));
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      onStream(stream);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    return { url, sessions, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it('closes a stream whose answer ended before the request body did, and stops sending that body', async () => {
    const up = await startGrpcUpstream();
    const origin = new H2cOrigin(up.url, { connectTimeout: 2_000, idleTimeout: 300 });
    try {
      const body = new PassThrough();
      body.write(frame({ first: true })); // the caller's stream stays open
      const r = recorder();
      origin.dispatch(
        {
          path: '/test.Orders/Early',
          method: 'POST',
          headers: { 'content-type': 'application/grpc' },
          body,
          bodyTimeout: 60_000,
        },
        r.handler,
      );
      await r.done;
      expect(r.out.error).toBeUndefined();
      expect(r.out.end).toMatchObject({ 'grpc-status': String(grpc.status.INVALID_ARGUMENT) });
      // the exchange is over: its stream is closed rather than held until the caller's body ends
      await expect.poll(() => origin.openStreams, { timeout: 3_000 }).toBe(0);
      expect(body.readableFlowing).toBe(false); // no longer piped upstream
    } finally {
      await origin.close();
      up.close();
    }
  });

  it('closes an idle connection again after a stream that outlived the first idle period', async () => {
    const sessions: ServerHttp2Session[] = [];
    const server = await h2cServer((stream) => {
      setTimeout(() => {
        if (!stream.destroyed) stream.respond({ ':status': 200 }, { endStream: true });
      }, 500); // longer than the idle timeout: it fires while the stream is open
    });
    const origin = new H2cOrigin(server.url, { connectTimeout: 2_000, idleTimeout: 200 });
    try {
      const r = recorder();
      origin.dispatch({ path: '/slow', method: 'GET', headers: {}, body: null, bodyTimeout: 5_000 }, r.handler);
      await r.done;
      expect(r.out.status).toBe(200);
      sessions.push(...server.sessions);
      await expect.poll(() => sessions[0]?.closed || sessions[0]?.destroyed, { timeout: 3_000 }).toBe(true);
    } finally {
      await origin.close();
      await server.close();
    }
  });

  it('keeps no body timeout while the gateway has paused the answer (its own client reads slowly)', async () => {
    const server = await h2cServer((stream) => {
      stream.respond({ ':status': 200 });
      stream.end(Buffer.alloc(512 * 1024, 1)); // beyond one flow-control window: the upstream waits on us
    });
    const origin = new H2cOrigin(server.url, { connectTimeout: 2_000, idleTimeout: 60_000 });
    try {
      let paused = false;
      const r = recorder((c) => {
        if (paused) return;
        paused = true;
        c.pause();
        setTimeout(() => c.resume(), 800); // four body timeouts long
      });
      origin.dispatch({ path: '/big', method: 'GET', headers: {}, body: null, bodyTimeout: 200 }, r.handler);
      await r.done;
      expect(r.out.error).toBeUndefined();
      expect(r.out.status).toBe(200);
    } finally {
      await origin.close();
      await server.close();
    }
  });

  it('adds no timer listeners per request or per pause (no MaxListenersExceededWarning over many)', async () => {
    const server = await h2cServer((stream) => {
      stream.respond({ ':status': 200 });
      stream.end(Buffer.alloc(256 * 1024, 1)); // several flow-control windows: many pauses when read slowly
    });
    const origin = new H2cOrigin(server.url, { connectTimeout: 2_000, idleTimeout: 60_000 });
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 15; i++) {
        const r = recorder((c) => {
          c.pause(); // every chunk: pause, then resume on the next tick
          setImmediate(() => c.resume());
        });
        origin.dispatch({ path: `/n/${i}`, method: 'GET', headers: {}, body: null, bodyTimeout: 5_000 }, r.handler);
        await r.done;
        expect(r.out.error).toBeUndefined();
        expect(r.out.chunks).toBeGreaterThan(11);
      }
      await sleep(20); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await origin.close();
      await server.close();
    }
  });

  it('times out connecting (a 504 kind) to a port where something that is not HTTP/2 listens', async () => {
    const accepted: Socket[] = [];
    const silent = createNetServer((socket) => {
      socket.on('error', () => {});
      accepted.push(socket); // accepts, never answers
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const origin = new H2cOrigin(`http://127.0.0.1:${(silent.address() as { port: number }).port}`, {
      connectTimeout: 200,
      idleTimeout: 60_000,
    });
    try {
      const r = recorder();
      origin.dispatch({ path: '/x', method: 'GET', headers: {}, body: null, bodyTimeout: 30_000 }, r.handler);
      await r.done;
      expect(r.out.error?.code).toBe('UND_ERR_CONNECT_TIMEOUT');
      expect(upstreamFailureKind(r.out.error)).toBe('timeout');
    } finally {
      await origin.close();
      for (const socket of accepted) socket.destroy();
      silent.close();
    }
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

  it('decodes grpc-web-text bodies split anywhere, padded per message, with whitespace', async () => {
    const messages = [Buffer.from('a'), Buffer.from('bcde'), Buffer.from('fghij')];
    const text = messages.map((m) => m.toString('base64')).join('\n'); // YQ==\nYmNkZQ==\nZmdoaWo=
    for (const size of [1, 3, 5, text.length]) {
      const decoder = base64Decoder();
      const out: Buffer[] = [];
      decoder.on('data', (b: Buffer) => out.push(b));
      for (let i = 0; i < text.length; i += size) decoder.write(Buffer.from(text.slice(i, i + size)));
      decoder.end();
      await once(decoder, 'end');
      expect(Buffer.concat(out).toString()).toBe('abcdefghij');
    }
    const broken = base64Decoder();
    broken.end(Buffer.from('YWJj='));
    broken.resume();
    const [err] = (await once(broken, 'error')) as [Error & { code?: string }];
    expect(err.code).toBe('ERR_HTTP_BAD_REQUEST');
  });

  it('encodes a gRPC-Web text answer as one base64 stream whatever the chunking', () => {
    const call = grpcWebCall({ 'content-type': 'application/grpc-web-text' })!;
    expect(call).toEqual({
      text: true,
      answerType: 'application/grpc-web-text+proto',
      upstreamType: 'application/grpc',
    });
    expect(grpcWebCall({ 'content-type': 'application/grpc-web+json' })?.upstreamType).toBe('application/grpc+json');
    expect(grpcWebCall({ 'content-type': 'application/grpc' })).toBeUndefined();
    const web = new GrpcWebAnswer(call);
    const fields: Record<string, string> = { 'content-type': 'application/grpc', 'content-length': '12' };
    web.head(fields);
    expect(fields).toEqual({ 'content-type': 'application/grpc-web-text+proto' });
    const body = Buffer.from('0123456789abcdefg');
    let text = '';
    for (const byte of body) text += web.data(Buffer.from([byte])).toString('latin1');
    text += web.end({ 'grpc-status': '0' })!.toString('latin1');
    const decoded = Buffer.from(text, 'base64');
    expect(decoded.subarray(0, body.length).toString()).toBe('0123456789abcdefg');
    expect(decoded[body.length]).toBe(0x80);
    expect(decoded.subarray(body.length + 5).toString()).toBe('grpc-status: 0\r\n');
    const html = new GrpcWebAnswer(call); // not a gRPC answer: untouched
    const page: Record<string, string> = { 'content-type': 'text/html' };
    html.head(page);
    expect(page['content-type']).toBe('text/html');
    expect(html.data(Buffer.from('<p>'))).toEqual(Buffer.from('<p>'));
    expect(html.end({})).toBeUndefined();
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
    expect(JSON.stringify(mtls.error?.issues)).toMatch(/"mtls"\].*plaintext HTTP\/2/);
    const config = configSchema.parse({
      gateway: {
        upstreams: [{ name: 'u', hosts: ['http://127.0.0.1:1'], protocol: 'h2c' }],
        routes: [{ name: 'ws', pathPrefix: '/ws/', upstream: 'u', websocket: true }],
      },
    });
    expect(() => new Gateway({ clock: systemClock, logger: silentLogger, config: config.gateway })).toThrow(
      /gateway\.routes\.0\.websocket: route ws carries WebSocket handshakes .* which speaks h2c/,
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
