import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  connect as h2connect,
  constants as h2constants,
  createServer as createH2cServer,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { RefusedStreamError, RetriableAnswer, RetryPolicy } from '../../src/mesh/index.js';
import { deadAddress } from '../support/dead_address.js';
import { call, startBackend, startGateway, testCertificate } from './support.js';

/** An origin nothing listens on (connections to it are refused). */
const deadHost = async () => `http://${await deadAddress()}`;

function retriesOf(retries: unknown) {
  return configSchema.parse({
    gateway: { upstreams: [{ name: 'u', hosts: ['http://127.0.0.1:1'], retries }], routes: [] },
  }).gateway.upstreams[0]!.retries;
}

const coded = (code: string) => Object.assign(new Error(code), { code });

/** An h2c upstream whose streams `onStream` handles: its URL, and a close that ends its sessions first. */
async function h2cUpstream(onStream: (stream: ServerHttp2Stream) => void) {
  const server = createH2cServer();
  const accepted: ServerHttp2Session[] = []; // closed at the end: node's server waits for its sessions
  server.on('session', (session) => accepted.push(session));
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    onStream(stream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: async () => {
      for (const session of accepted) session.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A gateway whose one route goes to `host` with two retries of a 503 (breaker and ejection out of the way). */
function statusRetryGateway(host: string) {
  return startGateway({
    upstreams: [
      {
        name: 'u',
        hosts: [host],
        retries: { attempts: 2, on: [503] },
        breaker: { consecutiveFailures: 1000, minimumRequests: 1000 },
        outlier: { consecutiveFailures: 1000 },
      },
    ],
    routes: [{ name: 'r', pathPrefix: '/', upstream: 'u' }],
  });
}

describe('RetryPolicy', () => {
  it('defaults to one more attempt on connect failures and resets, within 20 % of the requests in flight', () => {
    expect(retriesOf(undefined)).toEqual({
      attempts: 1,
      on: ['connect-failure', 'refused-stream', 'reset'],
      budget: 0.2,
    });
    expect(
      configSchema.safeParse({ gateway: { upstreams: [{ name: 'u', hosts: ['http://a:1'], retries: { on: [404] } }] } })
        .success,
    ).toBe(false);
    expect(
      configSchema.safeParse({
        gateway: { upstreams: [{ name: 'u', hosts: ['http://a:1'], retries: { attempts: 6 } }] },
      }).success,
    ).toBe(false);
  });

  it('retries a connection never made for any method, a reset and a listed status for idempotent ones only', () => {
    const p = new RetryPolicy(retriesOf({ on: ['connect-failure', 'reset', 503] }));
    const cases: Array<[Error, string, string | undefined]> = [
      [coded('ECONNREFUSED'), 'POST', 'connect-failure'],
      [coded('UND_ERR_CONNECT_TIMEOUT'), 'PATCH', 'connect-failure'],
      [coded('UND_ERR_SOCKET'), 'GET', 'reset'],
      [coded('ECONNRESET'), 'DELETE', 'reset'],
      [coded('UND_ERR_SOCKET'), 'POST', undefined], // the host may have acted on it
      [coded('UND_ERR_HEADERS_TIMEOUT'), 'GET', undefined], // a slow host asked twice is twice as slow
      [coded('UND_ERR_INVALID_ARG'), 'GET', undefined],
      [new Error('no code'), 'GET', undefined],
      [new RetriableAnswer(503), 'GET', 'status'],
    ];
    for (const [error, method, reason] of cases) {
      expect({ code: (error as { code?: string }).code, method, reason: p.reason(error, method) }).toEqual({
        code: (error as { code?: string }).code,
        method,
        reason,
      });
    }
    expect(p.retriesStatus('GET', 503)).toBe(true);
    expect(p.retriesStatus('POST', 503)).toBe(false);
    expect(p.retriesStatus('GET', 502)).toBe(false);
    // HTTP/2: node sends the request's HEADERS before the server's SETTINGS end the connect timeout.
    const h2 = new RetryPolicy(retriesOf({}), true);
    expect(h2.reason(coded('UND_ERR_CONNECT_TIMEOUT'), 'POST')).toBeUndefined();
    expect(h2.reason(coded('UND_ERR_CONNECT_TIMEOUT'), 'GET')).toBe('reset');
    expect(h2.reason(coded('ECONNREFUSED'), 'POST')).toBe('connect-failure');
    // A refused HTTP/2 stream was not processed (RFC 9113 §8.7): any method, when `on` names it (the default does).
    expect(h2.reason(new RefusedStreamError(), 'POST')).toBe('refused-stream');
    expect(p.reason(new RefusedStreamError(), 'POST')).toBeUndefined();
    expect(p.reason(new RefusedStreamError(), 'GET')).toBe('reset'); // not listed: still a reset
    const resetsOff = new RetryPolicy(retriesOf({ on: ['connect-failure'] }));
    expect(resetsOff.reason(coded('UND_ERR_SOCKET'), 'GET')).toBeUndefined();
  });

  it('holds retries in flight to the budget, never below 3', () => {
    const p = new RetryPolicy(retriesOf({ budget: 0.2 }));
    expect([p.reserve(1), p.reserve(1), p.reserve(1), p.reserve(1)]).toEqual([true, true, true, false]);
    expect(p.reserve(20)).toBe(true); // 4 of 20
    expect(p.reserve(20)).toBe(false);
    p.settled();
    p.settled();
    expect(p.retriesInFlight).toBe(2);
    expect(p.reserve(1)).toBe(true);
  });

  it('backs off 25 ms doubled per retry with full jitter', () => {
    const p = new RetryPolicy(retriesOf({}));
    expect([1, 2, 3].map((n) => p.backoffMs(n, () => 0.999))).toEqual([24, 49, 99]);
    expect(p.backoffMs(3, () => 0)).toBe(0);
  });
});

describe('retries through the gateway', () => {
  it('sends a request the dead host refused to the live one: no 502 for bodiless requests', async () => {
    const dead = await deadHost();
    const backend = await startBackend();
    const gw = await startGateway({
      upstreams: [{ name: 'u', hosts: [dead, backend.url], breaker: { consecutiveFailures: 1000 } }],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'u' }],
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1)
        statuses.push((await call(gw, `/get/${i}`, { method: i % 2 ? 'GET' : 'DELETE' })).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
      const metrics = await gw.gateway.metrics.text();
      expect(metrics).toMatch(/gatehouse_gateway_retries_total\{upstream="u",reason="connect-failure"\} [1-9]/);
    } finally {
      await gw.close();
      await backend.close();
    }
  });

  it('retries a request with a small body kept (WAF off and on), not a larger one, nor any with attempts: 0', async () => {
    const dead = await deadHost();
    const digests: string[] = []; // what the live host received whole, by SHA-256
    const backend = await startBackend((req, res) => {
      const hash = createHash('sha256');
      req.on('data', (chunk: Buffer) => hash.update(chunk));
      req.on('end', () => {
        digests.push(hash.digest('hex'));
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      });
    });
    // Every other attempt goes to the dead host: it is never ejected here, so the round robin stays predictable.
    const upstream = {
      hosts: [dead, backend.url],
      breaker: { consecutiveFailures: 1000 },
      outlier: { consecutiveFailures: 1000 },
    };
    const gw = await startGateway({
      upstreams: [
        { name: 'once', ...upstream, retries: { attempts: 0 } },
        { name: 'body', ...upstream },
      ],
      routes: [
        { name: 'once', pathPrefix: '/once', upstream: 'once' },
        // WAF off: the body streams from the client's request itself (the WAF reads it whole first).
        { name: 'raw', pathPrefix: '/raw', upstream: 'body', waf: { mode: 'off' } },
        { name: 'body', pathPrefix: '/body', upstream: 'body' },
      ],
    });
    const put = async (path: string, body: string | Buffer, type = 'application/octet-stream') => {
      const res = await request(gw.url + path, {
        method: 'PUT',
        headers: { 'content-type': type },
        body,
        dispatcher: gw.agent,
      });
      await res.body.dump();
      return res.statusCode;
    };
    const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
    try {
      const once = [await call(gw, '/once/1'), await call(gw, '/once/2')].map((a) => a.status).sort();
      expect(once).toEqual([200, 502]); // round robin: one of the two went to the dead host
      // `Content-Length: 0` is no body: a refused connection is retried.
      for (let i = 0; i < 2; i += 1) expect(await put(`/raw/e${i}`, '')).toBe(200);
      // Round robin sends one of each pair to the dead host first: the kept copy goes to the live one, whole.
      const small = randomBytes(40_000);
      for (let i = 0; i < 2; i += 1) expect(await put(`/raw/${i}`, small)).toBe(200);
      const json = JSON.stringify({ name: "O'Brien", note: 'z'.repeat(3_000) });
      for (let i = 0; i < 2; i += 1) expect(await put(`/body/${i}`, json, 'application/json')).toBe(200);
      expect(digests.slice(-4)).toEqual([sha(small), sha(small), sha(json), sha(json)]);
      // Over 64 KiB: not kept, so never sent twice (the attempt at the dead host is the client's 502).
      const big = randomBytes(70_000);
      const statuses = [await put('/raw/b1', big), await put('/raw/b2', big)].sort();
      expect(statuses).toEqual([200, 502]);
      expect(digests.at(-1)).toBe(sha(big));
      const metrics = await gw.gateway.metrics.text();
      expect(metrics).toMatch(/gatehouse_gateway_retries_total\{upstream="body",reason="connect-failure"\} 6\n/);
    } finally {
      await gw.close();
      await backend.close();
    }
  });

  it('retries an idempotent request whose connection broke before the answer, not a POST', async () => {
    let breakNext = 0;
    const backend = await startBackend((req, res) => {
      if (breakNext > 0) {
        breakNext -= 1;
        req.socket.destroy(); // the connection breaks after the request was read: no answer at all
        return;
      }
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method }));
    });
    const gw = await startGateway({
      upstreams: [{ name: 'u', hosts: [backend.url] }],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'u' }],
    });
    try {
      breakNext = 1;
      const get = await call(gw, '/x');
      expect(get.status).toBe(200); // the only host, again, after a short backoff
      expect(backend.hits).toBe(2);
      breakNext = 1;
      const post = await call(gw, '/x', { method: 'POST' });
      expect(post.status).toBe(502); // the host may have acted on it: not sent twice
      expect(backend.hits).toBe(3);
      const metrics = await gw.gateway.metrics.text();
      expect(metrics).toMatch(/gatehouse_gateway_retries_total\{upstream="u",reason="reset"\} 1\n/);
      expect(metrics).toMatch(/gatehouse_gateway_upstream_retries_in_flight\{upstream="u"\} 0\n/);
    } finally {
      await gw.close();
      await backend.close();
    }
  });

  it('sends a request whose stream an h2c upstream refused again, whatever its method, with a small body kept', async () => {
    let refuseNext = 0;
    let streams = 0;
    const upstream = await h2cUpstream((stream) => {
      streams += 1;
      if (refuseNext > 0) {
        refuseNext -= 1;
        stream.resume();
        stream.close(h2constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      let bytes = 0; // the answer once the whole body is in, with its size
      stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/json' });
        stream.end(JSON.stringify({ bytes }));
      });
    });
    const url = upstream.url;
    const gw = await startGateway({
      upstreams: [{ name: 'u', hosts: [url], protocol: 'h2c' }],
      // WAF off: the body streams from the client's request itself (the WAF would have read it whole first).
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'u', waf: { mode: 'off' } }],
    });
    try {
      refuseNext = 1;
      const post = await call(gw, '/x', { method: 'POST', headers: { 'content-length': '0' } });
      expect(post.status).toBe(200); // not processed: a POST may go again
      expect(streams).toBe(2);
      refuseNext = 1;
      const small = 'x'.repeat(3_000); // a copy was kept while it streamed: sent again whole
      const withBody = await request(gw.url + '/x', { method: 'POST', body: small, dispatcher: gw.agent });
      expect(withBody.statusCode).toBe(200);
      expect(await withBody.body.json()).toEqual({ bytes: 3_000 });
      expect(streams).toBe(4);
      refuseNext = 1;
      const big = await request(gw.url + '/x', { method: 'POST', body: 'x'.repeat(70_000), dispatcher: gw.agent });
      await big.body.dump();
      expect(big.statusCode).toBe(502); // over 64 KiB: not kept, never sent twice
      expect(streams).toBe(5);
      const metrics = await gw.gateway.metrics.text();
      expect(metrics).toMatch(/gatehouse_gateway_retries_total\{upstream="u",reason="refused-stream"\} 2\n/);
      // With the WAF on, the body it read whole streams on from its stand-in: kept and replayed the same way.
      const checked = await startGateway({
        upstreams: [{ name: 'u', hosts: [url], protocol: 'h2c' }],
        routes: [{ name: 'r', pathPrefix: '/', upstream: 'u' }],
      });
      try {
        refuseNext = 1;
        const viaWaf = await request(checked.url + '/x', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ note: 'y'.repeat(2_000) }),
          dispatcher: checked.agent,
        });
        expect(viaWaf.statusCode).toBe(200);
        expect(await viaWaf.body.json()).toEqual({ bytes: 2_011 });
      } finally {
        await checked.close();
      }
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  it('does not hold a streaming gRPC call refused before its body ended: UNAVAILABLE at once, not sent again', async () => {
    let streams = 0;
    const upstream = await h2cUpstream((stream) => {
      streams += 1;
      stream.close(h2constants.NGHTTP2_REFUSED_STREAM);
    });
    const url = upstream.url;
    const gw = await startGateway(
      {
        upstreams: [{ name: 'u', hosts: [url], protocol: 'h2c', retries: { attempts: 1 } }],
        routes: [{ name: 'r', pathPrefix: '/', upstream: 'u', waf: { contentTypes: ['application/grpc'] } }],
        http2: { enabled: true },
      },
      // A call held until the request deadline would end DEADLINE_EXCEEDED (4) instead.
      { http: { requestTimeout: '20s', headersTimeout: '10s' } },
    );
    const session = h2connect(gw.url, { ca: testCertificate().certPem, servername: 'localhost' });
    session.on('error', () => {});
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/test.Chat/Chat',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      stream.on('error', () => {});
      const answer = new Promise<Record<string, unknown>>((resolve) => stream.on('response', resolve));
      // A bidi call's first message; the client goes on only once the answer comes (no end of its stream yet).
      stream.write(Buffer.from([0, 0, 0, 0, 5, ...Buffer.from('hello')]));
      const headers = await answer;
      expect(headers['grpc-status']).toBe('14'); // UNAVAILABLE: the client may retry the call itself
      expect(streams).toBe(1); // the body was not whole: never sent again
    } finally {
      session.destroy();
      await gw.close();
      await upstream.close();
    }
  });

  it('counts a stream an h2c upstream ended without any answer as a reset (502 at last), never an empty 200', async () => {
    let streams = 0;
    const upstream = await h2cUpstream((stream) => {
      streams += 1;
      setTimeout(() => stream.close(h2constants.NGHTTP2_NO_ERROR), 10); // RST_STREAM NO_ERROR, no HEADERS
    });
    const url = upstream.url;
    const gw = await startGateway({
      upstreams: [{ name: 'u', hosts: [url], protocol: 'h2c', breaker: { consecutiveFailures: 1000 } }],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'u' }],
    });
    try {
      const res = await call(gw, '/x');
      expect(res.status).toBe(502);
      expect(streams).toBe(2); // a GET: sent again once, as any reset
      const metrics = await gw.gateway.metrics.text();
      expect(metrics).toMatch(/gatehouse_gateway_upstream_responses_total\{upstream="u",class="failed"\} 1\n/);
      expect(metrics).not.toMatch(/gatehouse_gateway_upstream_responses_total\{upstream="u",class="2xx"\}/);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  it("drops a listed status for another host and relays the last attempt's answer whole", async () => {
    const failing = await startBackend((req, res) => {
      req.resume();
      res.writeHead(503, { 'content-type': 'text/plain', 'x-from': 'failing' });
      res.end('busy');
    });
    const healthy = await startBackend();
    const gw = await startGateway({
      upstreams: [
        {
          name: 'mixed',
          hosts: [failing.url, healthy.url],
          retries: { on: ['connect-failure', 503] },
          breaker: { consecutiveFailures: 1000 },
          outlier: { consecutiveFailures: 1000 },
        },
        {
          name: 'only',
          hosts: [failing.url],
          retries: { attempts: 2, on: [503] },
          breaker: { consecutiveFailures: 1000 },
          outlier: { consecutiveFailures: 1000 },
        },
      ],
      routes: [
        { name: 'mixed', pathPrefix: '/mixed', upstream: 'mixed' },
        { name: 'only', pathPrefix: '/only', upstream: 'only' },
      ],
    });
    try {
      const gets = [await call(gw, '/mixed/1'), await call(gw, '/mixed/2'), await call(gw, '/mixed/3')];
      expect(gets.map((a) => a.status)).toEqual([200, 200, 200]);
      // Not idempotent: a POST gets the 503 it was given.
      const posts = [await call(gw, '/mixed/p', { method: 'POST' }), await call(gw, '/mixed/p', { method: 'POST' })];
      expect(posts.map((a) => a.status).sort()).toEqual([200, 503]);
      const before = failing.hits;
      const last = await call(gw, '/only/x');
      expect(failing.hits - before).toBe(3); // the first attempt and two more
      expect(last).toMatchObject({ status: 503, body: 'busy' });
      expect(last.headers['x-from']).toBe('failing');
      const metrics = await gw.gateway.metrics.text();
      expect(metrics).toMatch(/gatehouse_gateway_retries_total\{upstream="only",reason="status"\} 2\n/);
      expect(metrics).toMatch(/gatehouse_gateway_upstream_retries_in_flight\{upstream="only"\} 0\n/);
      expect(metrics).toMatch(/gatehouse_gateway_upstream_retries_in_flight\{upstream="mixed"\} 0\n/);
    } finally {
      await gw.close();
      await failing.close();
      await healthy.close();
    }
  });

  it('lets a request on a status retry hand its budget place to its next attempt', async () => {
    const failing = await startBackend((req, res) => {
      req.resume();
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('busy');
    });
    const gw = await statusRetryGateway(failing.url);
    try {
      // Three requests hold at most three places (the floor) between them: none overflows.
      const answers = await Promise.all([call(gw, '/a'), call(gw, '/b'), call(gw, '/c')]);
      expect(answers.map((a) => a.status)).toEqual([503, 503, 503]);
      expect(failing.hits).toBe(9);
      const metrics = await gw.gateway.metrics.text();
      expect(metrics).not.toMatch(/gatehouse_gateway_retry_overflow_total\{upstream="u"\} [1-9]/);
      expect(metrics).toMatch(/gatehouse_gateway_upstream_retries_in_flight\{upstream="u"\} 0\n/);
    } finally {
      await gw.close();
      await failing.close();
    }
  });

  it('reads a dropped answer of a small declared length to its end: its HTTP/1.1 connection is kept', async () => {
    const failing = await startBackend((req, res) => {
      req.resume();
      const chunked = req.url?.startsWith('/chunked') === true;
      res.writeHead(503, { 'content-type': 'text/plain', ...(chunked ? {} : { 'content-length': 4 }) });
      res.end('busy');
    });
    let connections = 0;
    failing.server.on('connection', () => (connections += 1));
    const gw = await statusRetryGateway(failing.url);
    try {
      expect(await call(gw, '/declared')).toMatchObject({ status: 503, body: 'busy' });
      expect(failing.hits).toBe(3);
      expect(connections).toBe(1); // three attempts, one after the other, on one connection
      // Without a declared length the dropped answer is cut, with its connection: each retry opens one (or more: the
      // pool may open one while the cut connection is still closing).
      expect(await call(gw, '/chunked')).toMatchObject({ status: 503, body: 'busy' });
      expect(failing.hits).toBe(6);
      expect(connections).toBeGreaterThanOrEqual(3);
    } finally {
      await gw.close();
      await failing.close();
    }
  });

  it('keeps retries within the budget when the whole upstream is down', async () => {
    const dead = await deadHost();
    const gw = await startGateway({
      upstreams: [
        {
          name: 'u',
          hosts: [dead],
          retries: { attempts: 5, budget: 0.1 },
          breaker: { consecutiveFailures: 1000, minimumRequests: 1000 },
          outlier: { consecutiveFailures: 1000 },
        },
      ],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'u' }],
    });
    try {
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => call(gw, `/${i}`)));
      expect(new Set(answers.map((a) => a.status))).toEqual(new Set([502]));
      const metrics = await gw.gateway.metrics.text();
      const retried = Number(
        /gatehouse_gateway_retries_total\{upstream="u",reason="connect-failure"\} (\d+)/.exec(metrics)?.[1],
      );
      const overflow = Number(/gatehouse_gateway_retry_overflow_total\{upstream="u"\} (\d+)/.exec(metrics)?.[1]);
      expect(metrics).toMatch(/gatehouse_gateway_upstream_retries_in_flight\{upstream="u"\} 0\n/); // none held
      // Each request counts once for its upstream, by its final outcome: no whole answer.
      expect(metrics).toMatch(/gatehouse_gateway_upstream_responses_total\{upstream="u",class="failed"\} 30\n/);
      // 30 requests could make 150 retries; the budget (at least 3 at a time) refuses some.
      expect(overflow).toBeGreaterThan(0);
      expect(retried).toBeLessThan(150);
      expect(retried + overflow).toBeLessThanOrEqual(150);
    } finally {
      await gw.close();
    }
  });
});
