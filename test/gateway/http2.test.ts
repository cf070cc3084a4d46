// HTTP/2 on the gateway listener (gateway.http2.enabled): ALPN h2 beside HTTP/1.1, the same pipeline for both, the
// HTTP/2 bounds (streams, header list, idle GOAWAY, body deadline, slow readers), and curl as a real HTTP/2 peer.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as h2connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http1Headers } from '../../src/mesh/index.js';
import { listenerChanges } from '../../src/app/index.js';
import {
  call,
  gatewayConfig,
  recordingLogger,
  sendBigAnswer,
  startBackend,
  startGateway,
  testCertificate,
  type Json,
  type RunningGateway,
} from './support.js';

const run = promisify(execFile);
type Backend = Awaited<ReturnType<typeof startBackend>>;

function session(gw: RunningGateway): ClientHttp2Session {
  const s = h2connect(gw.url, { ca: testCertificate().certPem, servername: 'localhost' });
  s.on('error', () => {});
  return s;
}

/** Resolves once `check` holds (polled every 20 ms); throws after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(20);
  }
}

/** Runs `fn` on a new HTTP/2 connection to `gw`, closed afterwards. */
async function withSession(gw: RunningGateway, fn: (s: ClientHttp2Session) => Promise<void>): Promise<void> {
  const s = session(gw);
  try {
    await fn(s);
  } finally {
    s.close();
  }
}

/** One HTTP/2 request; resolves with the response fields, the body (JSON parsed when it is JSON) and the RST code. */
async function h2request(
  s: ClientHttp2Session,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Json; rstCode: number }> {
  const req = s.request(headers, { endStream: body === undefined });
  if (body !== undefined) req.end(body);
  req.on('error', () => {});
  let fields: IncomingHttpHeaders = {};
  req.on('response', (h) => (fields = h));
  let text = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (text += c));
  await once(req, 'close');
  const type = String(fields['content-type'] ?? '');
  return {
    status: Number(fields[':status'] ?? 0),
    headers: fields,
    body: type.includes('json') && text !== '' ? JSON.parse(text) : text,
    rstCode: req.rstCode ?? 0,
  };
}

/** The protocol the listener picks for a client offering `offered`. */
async function alpn(port: number, offered: string[]): Promise<string | false> {
  const socket = tlsConnect({ host: '127.0.0.1', port, ALPNProtocols: offered, rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  const picked = socket.alpnProtocol ?? false;
  socket.destroy();
  return picked;
}

describe('gateway HTTP/2 (gateway.http2.enabled)', () => {
  let backend: Backend;
  let gw: RunningGateway;

  beforeAll(async () => {
    backend = await startBackend((req, res) => {
      let received = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (received += c));
      req.on('end', () => {
        res.writeHead(200, {
          'content-type': 'application/json',
          connection: 'keep-alive, x-hop',
          'x-hop': 'dropped',
          'keep-alive': 'timeout=5',
          'x-end': 'kept',
          ...(req.url?.startsWith('/cached/') ? { 'cache-control': 'public, max-age=60', etag: '"v1"' } : {}),
          ...(req.url?.startsWith('/h2-settings') ? { 'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA' } : {}),
        });
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: received }));
      });
    });
    gw = await startGateway({
      upstreams: [{ name: 'app', hosts: [backend.url] }],
      routes: [
        {
          name: 'limited',
          pathPrefix: '/limited/',
          upstream: 'app',
          limits: [{ name: 'per-ip', key: ['ip'], rate: 1, per: '1h', burst: 0 }],
        },
        { name: 'cached', pathPrefix: '/cached/', upstream: 'app', cache: { enabled: true } },
        { name: 'app', pathPrefix: '/', upstream: 'app' },
      ],
      http2: { enabled: true, maxConcurrentStreams: 7 },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await backend?.close();
  });

  it("drops an upstream's HTTP2-Settings field, which node refuses to send on HTTP/2 (it ended the process)", async () => {
    await withSession(gw, async (s) => {
      const r = await h2request(s, { ':path': '/h2-settings' });
      expect(r.status).toBe(200);
      expect(r.headers['http2-settings']).toBeUndefined();
      expect(r.headers['x-end']).toBe('kept');
    });
  });

  it('offers h2 first and still speaks HTTP/1.1 to clients that do not ask for h2', async () => {
    expect(await alpn(gw.port, ['h2', 'http/1.1'])).toBe('h2');
    expect(await alpn(gw.port, ['http/1.1'])).toBe('http/1.1');
    const h1 = await call(gw, '/plain');
    expect(h1.status).toBe(200);
    expect(h1.body.url).toBe('/plain');
  });

  it('keeps offering h2 after a certificate swap (the listener certificate renews while it runs)', async () => {
    const { certPem, keyPem } = testCertificate();
    gw.server.setCertificate(certPem, keyPem);
    expect(await alpn(gw.port, ['h2', 'http/1.1'])).toBe('h2');
    await withSession(gw, async (s) => {
      expect((await h2request(s, { ':path': '/after-swap' })).status).toBe(200);
    });
  });

  it('proxies an HTTP/2 request as HTTP/1.1 upstream: no pseudo-header fields, Host from :authority', async () => {
    await withSession(gw, async (s) => {
      const r = await h2request(s, {
        ':path': '/orders/42?x=1',
        ':authority': `api.example:${gw.port}`,
        'x-custom': 'yes',
        'x-gatehouse-sub': 'forged',
      });
      expect(r.status).toBe(200);
      const up = r.body.headers as Record<string, string>;
      expect(r.body.url).toBe('/orders/42?x=1');
      expect(Object.keys(up).filter((k) => k.startsWith(':'))).toEqual([]);
      expect(up['x-custom']).toBe('yes');
      expect(up['x-gatehouse-sub']).toBeUndefined();
      expect(up['x-forwarded-host']).toBe(`api.example:${gw.port}`);
      expect(up['x-forwarded-proto']).toBe('https');
      expect(up['x-forwarded-for']).toBe('127.0.0.1');
      expect(up['x-request-id']).toBe(r.headers['x-request-id']);
      // The upstream's connection-specific fields never reach an HTTP/2 client; end-to-end ones do.
      expect(r.headers['x-end']).toBe('kept');
      expect(r.headers['x-hop']).toBeUndefined();
      expect(r.headers['keep-alive']).toBeUndefined();
      expect(r.headers['connection']).toBeUndefined();
      expect(r.headers['strict-transport-security']).toMatch(/^max-age=/);
    });
  });

  it('forwards a request body and runs several streams on one connection', async () => {
    await withSession(gw, async (s) => {
      const answers = await Promise.all(
        [1, 2, 3, 4, 5].map((i) =>
          h2request(s, { ':method': 'POST', ':path': `/post/${i}`, 'content-type': 'text/plain' }, `body ${i}`),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
      expect(answers.map((a) => a.body.body)).toEqual(['body 1', 'body 2', 'body 3', 'body 4', 'body 5']);
      expect(answers.every((a) => a.body.method === 'POST')).toBe(true);
    });
  });

  it('answers from the response cache over HTTP/2 (hit, 304 on If-None-Match) without connection-specific fields', async () => {
    await withSession(gw, async (s) => {
      const before = backend.hits;
      const miss = await h2request(s, { ':path': '/cached/item', ':authority': 'shop.example' });
      const hit = await h2request(s, { ':path': '/cached/item', ':authority': 'shop.example' });
      const notModified = await h2request(s, {
        ':path': '/cached/item',
        ':authority': 'shop.example',
        'if-none-match': '"v1"',
      });
      expect([miss.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT']);
      expect(hit.status).toBe(200);
      expect(hit.body.url).toBe('/cached/item');
      expect(hit.headers['connection']).toBeUndefined();
      expect(hit.headers['keep-alive']).toBeUndefined();
      expect(notModified.status).toBe(304);
      expect(backend.hits).toBe(before + 1);
    });
  });

  it('advertises the stream cap and the header-list bound in its SETTINGS', async () => {
    await withSession(gw, async (s) => {
      await once(s, 'remoteSettings');
      expect(s.remoteSettings.maxConcurrentStreams).toBe(7);
      expect(s.remoteSettings.maxHeaderListSize).toBe(16384);
      expect(s.remoteSettings.enablePush).toBe(false);
    });
  });

  it('answers a rate-limited HTTP/2 request with 429 problem+json and the RateLimit fields', async () => {
    await withSession(gw, async (s) => {
      expect((await h2request(s, { ':path': '/limited/a' })).status).toBe(200);
      const r = await h2request(s, { ':path': '/limited/a' });
      expect(r.status).toBe(429);
      expect(r.headers['content-type']).toBe('application/problem+json');
      expect(r.body.code).toBe('ERR_RATE_LIMITED');
      expect(r.headers['retry-after']).toBeDefined();
      expect(String(r.headers['ratelimit-policy'])).toContain('"per-ip"');
    });
  });

  it('refuses a Host that differs from :authority (RFC 9113 §8.3.1) and CONNECT, without reaching the upstream', async () => {
    const before = backend.hits;
    await withSession(gw, async (s) => {
      const mismatch = await h2request(s, { ':path': '/x', ':authority': 'api.example', host: 'evil.example' });
      expect(mismatch.status).toBe(400);
      expect(mismatch.body.code).toBe('ERR_HTTP_BAD_REQUEST');
      const connect = await h2request(s, { ':method': 'CONNECT', ':authority': 'db.internal:5432' });
      expect(connect.status).toBe(501);
      expect(connect.body.code).toBe('ERR_GATEWAY_UPGRADE_UNSUPPORTED');
      // The connection is still good for the next request.
      expect((await h2request(s, { ':path': '/after' })).status).toBe(200);
      expect(backend.hits).toBe(before + 1);
    });
  });

  it('answers a WAF block with an unread body on its stream alone (no Connection field, the connection lives on)', async () => {
    await withSession(gw, async (s) => {
      const req = s.request(
        { ':method': 'POST', ':path': '/upload', 'user-agent': 'sqlmap/1.7' },
        { endStream: false },
      );
      req.write('partial body, never ended');
      req.on('error', () => {});
      const [fields] = (await once(req, 'response')) as [IncomingHttpHeaders];
      expect(fields[':status']).toBe(403);
      expect(fields['connection']).toBeUndefined();
      req.resume();
      await once(req, 'close');
      expect((await h2request(s, { ':path': '/still-open' })).status).toBe(200);
    });
  });

  it('curl --http2 (a real HTTP/2 peer) gets the proxied answer over h2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-h2-'));
    try {
      const ca = join(dir, 'ca.pem');
      writeFileSync(ca, testCertificate().certPem);
      const { stdout } = await run('curl', [
        '--silent',
        '--show-error',
        '--http2',
        '--cacert',
        ca,
        '--resolve',
        `localhost:${gw.port}:127.0.0.1`,
        '--write-out',
        '\n%{http_version} %{http_code}',
        `https://localhost:${gw.port}/from-curl`,
      ]);
      const [body, status] = stdout.split('\n');
      expect(status).toBe('2 200');
      expect(JSON.parse(body!).url).toBe('/from-curl');
      expect(JSON.parse(body!).headers['x-forwarded-host']).toBe(`localhost:${gw.port}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gateway HTTP/2 access log', () => {
  it('marks the lines of HTTP/2 requests with http_version 2.0, and only those', async () => {
    const backend = await startBackend();
    const { logger, lines } = recordingLogger();
    const gw = await startGateway(
      {
        upstreams: [{ name: 'app', hosts: [backend.url] }],
        routes: [{ name: 'app', pathPrefix: '/', upstream: 'app' }],
        http2: { enabled: true },
      },
      { logger },
    );
    const s = session(gw);
    try {
      expect((await h2request(s, { ':path': '/over-h2' })).status).toBe(200);
      expect((await call(gw, '/over-h1')).status).toBe(200);
      await sleep(20); // access lines are written in a setImmediate batch
      const access = lines.filter((l) => l.msg === 'access');
      expect(access.find((l) => l.path === '/over-h2')?.http_version).toBe('2.0');
      expect(access.find((l) => l.path === '/over-h1')).toBeDefined();
      expect(access.find((l) => l.path === '/over-h1')?.http_version).toBeUndefined();
    } finally {
      s.close();
      await gw.close();
      await backend.close();
    }
  });
});

describe('gateway HTTP/2 off (the default)', () => {
  let backend: Backend;
  let gw: RunningGateway;
  beforeAll(async () => {
    backend = await startBackend();
    gw = await startGateway({
      upstreams: [{ name: 'app', hosts: [backend.url] }],
      routes: [{ name: 'app', pathPrefix: '/', upstream: 'app' }],
    });
  });
  afterAll(async () => {
    await gw?.close();
    await backend?.close();
  });

  it('offers only http/1.1', async () => {
    expect(await alpn(gw.port, ['http/1.1'])).toBe('http/1.1');
    expect(await alpn(gw.port, ['h2', 'http/1.1'])).toBe('http/1.1');
    expect(gw.server.http2Sessions).toBe(0);
  });
});

describe('gateway HTTP/2 bounds', () => {
  let backend: Backend;
  let gw: RunningGateway;
  beforeAll(async () => {
    backend = await startBackend((req, res) => {
      req.resume();
      if (req.url === '/hold') return void setTimeout(() => res.end('held'), 1500);
      if (req.url === '/hold-long') {
        const timer = setTimeout(() => res.end('held long'), 15_000);
        return void res.on('close', () => clearTimeout(timer));
      }
      if (req.url !== '/big') return void req.on('end', () => res.end('small'));
      sendBigAnswer(res);
    });
    gw = await startGateway(
      {
        upstreams: [{ name: 'app', hosts: [backend.url] }],
        routes: [{ name: 'app', pathPrefix: '/', upstream: 'app' }],
        http2: { enabled: true },
        slowClients: { sendTimeout: '1s' },
      },
      {
        http: {
          headersTimeout: '1s',
          requestTimeout: '1s',
          keepAliveTimeout: '1s',
          connectionsCheckingInterval: '200ms',
        },
      },
    );
  });
  afterAll(async () => {
    await gw?.close();
    await backend?.close();
  });

  it('answers 408 problem+json to a stream whose body stalls past http.requestTimeout, then resets it', async () => {
    await withSession(gw, async (s) => {
      const req = s.request(
        { ':method': 'POST', ':path': '/slow-body', 'content-type': 'text/plain' },
        { endStream: false },
      );
      req.write('a little');
      req.on('error', () => {});
      const started = Date.now();
      const [fields] = (await once(req, 'response')) as [IncomingHttpHeaders];
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (text += c));
      await once(req, 'close');
      expect(fields[':status']).toBe(408);
      expect(JSON.parse(text).code).toBe('ERR_HTTP_REQUEST_TIMEOUT');
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    });
  });

  it('sends GOAWAY to a connection idle past http.keepAliveTimeout', async () => {
    const s = session(gw);
    const goaway = once(s, 'goaway');
    expect((await h2request(s, { ':path': '/once' })).status).toBe(200);
    const [code] = (await goaway) as [number];
    expect(code).toBe(0);
    await once(s, 'close');
  });

  it('resets a stream whose client reads none of the answer for slowClients.sendTimeout', async () => {
    await withSession(gw, async (s) => {
      const req = s.request({ ':path': '/big' });
      req.on('error', () => {});
      req.pause();
      await once(req, 'response');
      await once(req, 'close');
      expect(req.rstCode).toBe(0x8);
      // Other streams of the connection were not touched.
      expect((await h2request(s, { ':path': '/next' })).status).toBe(200);
    });
  });

  it('aborts the upstream requests of a client that goes away, freeing their upstream slots at once', async () => {
    // Node's compatibility response reads as finished once its stream is reset: the exchange used to take that for a
    // completed answer and kept the upstream request (and its slot) until the upstream answered.
    const own = await startGateway({
      upstreams: [{ name: 'app', hosts: [backend.url], maxConcurrent: 2, maxQueue: 0 }],
      routes: [{ name: 'app', pathPrefix: '/', upstream: 'app' }],
      http2: { enabled: true },
    });
    try {
      const hits = backend.hits;
      const leaving = session(own);
      for (let i = 0; i < 2; i += 1) leaving.request({ ':path': '/hold-long' }).on('error', () => {});
      await until(() => backend.hits === hits + 2); // both requests hold the upstream's two slots now
      leaving.destroy();
      // Long before the held answers (15 s), the slots are free again: a new request is no longer refused as
      // overloaded (503), as it was before the fix until the upstream answered.
      let status = 0;
      await until(async () => {
        await withSession(own, async (s) => {
          status = (await h2request(s, { ':path': '/quick' })).status;
        });
        return status === 200;
      }, 5_000);
      expect(status).toBe(200);
    } finally {
      await own.close();
    }
  });

  it('at slowClients.maxConnections closes an idle HTTP/2 connection, never one with a stream being answered', async () => {
    const own = await startGateway({
      upstreams: [{ name: 'app', hosts: [backend.url] }],
      routes: [{ name: 'app', pathPrefix: '/', upstream: 'app' }],
      http2: { enabled: true },
      slowClients: { maxConnections: 2 },
    });
    const busy = session(own);
    const idle = session(own);
    try {
      const hits = backend.hits;
      const held = h2request(busy, { ':path': '/hold' });
      await once(idle, 'remoteSettings');
      await until(() => backend.hits === hits + 1); // the held request is with the upstream by now
      const idleClosed = once(idle, 'close');
      // A third connection at the cap: the oldest connection not being answered goes, the busy one stays.
      const third = tlsConnect({ host: '127.0.0.1', port: own.port, rejectUnauthorized: false });
      third.on('error', () => {});
      await idleClosed;
      const answer = await held;
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('held');
      third.destroy();
    } finally {
      busy.close();
      idle.destroy();
      await own.close();
    }
  });

  it('counts its connections by protocol, and closes the HTTP/2 ones with GOAWAY at shutdown', async () => {
    // A second gateway, so the shutdown does not end the others' tests.
    const own = await startGateway(
      {
        upstreams: [{ name: 'app', hosts: [backend.url] }],
        routes: [{ name: 'app', pathPrefix: '/', upstream: 'app' }],
        http2: { enabled: true },
      },
      {},
    );
    const s = session(own);
    expect((await h2request(s, { ':path': '/warm' })).status).toBe(200);
    expect(own.server.http2Sessions).toBe(1);
    const h1 = await call(own, '/h1-too'); // undici keeps this HTTP/1.1 connection open
    expect(h1.status).toBe(200);
    const exposition = await own.gateway.metrics.text();
    expect(exposition).toContain('gatehouse_gateway_connections{protocol="http2"} 1');
    expect(exposition).toContain('gatehouse_gateway_connections{protocol="http1"} 1');
    const goaway = once(s, 'goaway');
    const closed = own.close();
    await goaway;
    await closed;
    await sleep(10);
    expect(own.server.http2Sessions).toBe(0);
  });
});

describe('http1Headers', () => {
  it('drops pseudo-header fields and takes Host from :authority', () => {
    expect(
      http1Headers({ ':method': 'GET', ':path': '/', ':authority': 'api.example:8443', accept: '*/*' }, false),
    ).toEqual({ accept: '*/*', host: 'api.example:8443' });
  });
  it('frames a body without Content-Length as chunked, and leaves a declared length alone', () => {
    expect(http1Headers({ ':method': 'POST', ':authority': 'a' }, true)).toEqual({
      host: 'a',
      'transfer-encoding': 'chunked',
    });
    expect(http1Headers({ ':method': 'POST', ':authority': 'a', 'content-length': '3' }, true)).toEqual({
      host: 'a',
      'content-length': '3',
    });
  });
  it('keeps a Host equal to :authority (case aside) and refuses one that differs', () => {
    expect(http1Headers({ ':authority': 'API.example', host: 'api.example' }, false)).toEqual({ host: 'api.example' });
    expect(http1Headers({ ':authority': 'api.example', host: 'other.example' }, false)).toBeUndefined();
  });
});

describe('listenerChanges (SIGHUP)', () => {
  it('names a changed gateway.http2 or gateway.slowClients key, which only a restart applies', () => {
    const running = gatewayConfig({});
    expect(listenerChanges(running, gatewayConfig({}))).toEqual([]);
    expect(listenerChanges(running, gatewayConfig({ http2: { enabled: true } }))).toEqual(['gateway.http2.enabled']);
    expect(listenerChanges(running, gatewayConfig({ slowClients: { maxConnections: 5 } }))).toEqual([
      'gateway.slowClients.maxConnections',
    ]);
  });
});
