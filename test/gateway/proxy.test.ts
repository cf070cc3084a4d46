import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  rawGet,
  startBackend,
  testCertificate,
  startGateway,
  tableAuthenticator,
  type RunningGateway,
} from './support.js';

describe('gateway proxy: routing and header hygiene', () => {
  let a: Awaited<ReturnType<typeof startBackend>>;
  let b: Awaited<ReturnType<typeof startBackend>>;
  let gw: RunningGateway;
  const auth = tableAuthenticator({
    k1: { sub: 'alice', clientId: 'web', scopes: ['demo', 'read'], roles: ['admin'], apiKeyId: 'key_1' },
    k2: { sub: 'bob', clientId: 'cli', scopes: ['read'] },
  });

  beforeAll(async () => {
    a = await startBackend();
    b = await startBackend();
    gw = await startGateway(
      {
        upstreams: [
          { name: 'a', hosts: [a.url] },
          { name: 'b', hosts: [b.url] },
        ],
        routes: [
          { name: 'root', pathPrefix: '/', upstream: 'a' },
          { name: 'api', pathPrefix: '/api', upstream: 'b' },
          { name: 'api-v2', pathPrefix: '/api/v2/', upstream: 'a' },
          { name: 'other-host', host: 'other.example', pathPrefix: '/api', upstream: 'a' },
          {
            name: 'keyed',
            pathPrefix: '/keyed/',
            upstream: 'b',
            auth: { kind: 'api_key', scopes: ['demo'], roles: ['admin'] },
          },
        ],
      },
      { authenticator: auth },
    );
  });
  afterAll(async () => {
    await gw.close();
    await a.close();
    await b.close();
  });

  it('routes by host and longest path prefix on segment boundaries', async () => {
    const before = { a: a.hits, b: b.hits };
    expect((await call(gw, '/api/orders?x=1')).body.url).toBe('/api/orders?x=1');
    expect(b.hits).toBe(before.b + 1);
    await call(gw, '/apiary'); // not under /api: the root route
    expect(a.hits).toBe(before.a + 1);
    await call(gw, '/api/v2/x');
    expect(a.hits).toBe(before.a + 2);
    const { Agent, request } = await import('undici');
    const lax = new Agent({ connect: { ca: testCertificate().certPem, checkServerIdentity: () => undefined } });
    await (await request(`${gw.url}/api`, { headers: { host: 'other.example:443' }, dispatcher: lax })).body.text();
    // The fully qualified spelling (trailing dot) is the same host: it cannot skip the host's own routes.
    await (await request(`${gw.url}/api`, { headers: { host: 'Other.Example.' }, dispatcher: lax })).body.text();
    await (await request(`${gw.url}/api`, { headers: { host: 'other.example.:443' }, dispatcher: lax })).body.text();
    await lax.close();
    expect(a.hits).toBe(before.a + 5);
    expect(b.hits).toBe(before.b + 1);
  });

  it('answers 404 problem+json when no route matches', async () => {
    const gw2 = await startGateway({
      upstreams: [{ name: 'a', hosts: [a.url] }],
      routes: [{ name: 'x', pathPrefix: '/x/', upstream: 'a' }],
    });
    try {
      const res = await call(gw2, '/nope');
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(res.body.code).toBe('ERR_HTTP_NOT_FOUND');
      expect(res.body.request_id).toBe(res.headers['x-request-id']);
    } finally {
      await gw2.close();
    }
  });

  it('removes hop-by-hop headers both ways and sets X-Forwarded-* and a request id', async () => {
    const res = await rawGet(gw, '/echo', {
      connection: 'keep-alive, x-secret-hop',
      'x-secret-hop': '1',
      te: 'trailers',
      'proxy-authorization': 'Basic abc',
      proxy: 'http://attacker.example:8080',
      'proxy-foo': '1',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'http',
      'x-request-id': 'caller-chosen',
      'x-kept': 'yes',
    });
    const h = res.body.headers as Record<string, string>;
    expect(h['x-secret-hop']).toBeUndefined();
    expect(h['te']).toBeUndefined();
    expect(h['proxy-authorization']).toBeUndefined();
    expect(h['proxy']).toBeUndefined(); // httpoxy
    expect(h['proxy-foo']).toBeUndefined();
    expect(h['x-kept']).toBe('yes');
    expect(h['x-forwarded-for']).toBe('127.0.0.1'); // the peer is not a trusted proxy: its XFF is replaced
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h['x-forwarded-host']).toBe(`127.0.0.1:${gw.port}`);
    expect(h['x-request-id']).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(h['x-request-id']).not.toBe('caller-chosen');
    expect(res.headers['x-request-id']).toBe(h['x-request-id']);
    expect(res.headers['x-hop']).toBeUndefined(); // named in the upstream's Connection header
    expect(res.headers['x-end']).toBe('kept');
  });

  it('answers a request with Expect: 100-continue and does not count it against the upstream', async () => {
    const gw2 = await startGateway({
      upstreams: [{ name: 'a', hosts: [a.url], breaker: { consecutiveFailures: 1 } }],
      routes: [{ name: 'x', pathPrefix: '/', upstream: 'a' }],
    });
    try {
      for (let i = 0; i < 3; i += 1) {
        const res = await rawGet(gw2, '/expect', { expect: '100-continue' });
        expect(res.status).toBe(200);
        expect(res.body.headers['expect']).toBeUndefined(); // answered by the listener, not forwarded
      }
      expect((await call(gw2, '/after')).status).toBe(200); // the breaker stayed closed
    } finally {
      await gw2.close();
    }
  });

  it('authenticates per route, sends the verified identity upstream and strips caller-sent copies', async () => {
    const spoof = { 'x-gatehouse-sub': 'root', 'x-gatehouse-client-id': 'evil', 'x-gatehouse-key-id': 'k' };
    const open = await call(gw, '/echo', { headers: spoof });
    expect(open.body.headers['x-gatehouse-sub']).toBeUndefined();
    expect(open.body.headers['x-gatehouse-client-id']).toBeUndefined();
    const ok = await call(gw, '/keyed/x', { headers: { ...spoof, 'x-api-key': 'k1' } });
    expect(ok.status).toBe(200);
    expect(ok.body.headers['x-gatehouse-sub']).toBe('alice');
    expect(ok.body.headers['x-gatehouse-client-id']).toBe('web');
    expect(ok.body.headers['x-gatehouse-key-id']).toBe('key_1');
    expect(ok.body.headers['x-gatehouse-scopes']).toBe('demo read');
  });

  it('refuses missing or invalid credentials with 401 and missing scopes with 403', async () => {
    const none = await call(gw, '/keyed/x');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="gatehouse"');
    expect(none.body.code).toBe('ERR_TOKEN_MISSING');
    const bad = await call(gw, '/keyed/x', { headers: { 'x-api-key': 'nope' } });
    expect(bad.status).toBe(401);
    expect(bad.body.code).toBe('ERR_TOKEN_INVALID');
    const weak = await call(gw, '/keyed/x', { headers: { 'x-api-key': 'k2' } });
    expect(weak.status).toBe(403);
    expect(weak.body.code).toBe('ERR_TOKEN_INSUFFICIENT_SCOPE');
    expect(weak.headers['www-authenticate']).toContain('insufficient_scope');
  });

  it('forwards request bodies', async () => {
    const { request } = await import('undici');
    const res = await request(`${gw.url}/api/upload`, { method: 'POST', body: 'hello', dispatcher: gw.agent });
    const body = (await res.body.json()) as { method: string; headers: Record<string, string> };
    expect(body.method).toBe('POST');
    expect(body.headers['content-length']).toBe('5');
  });
});
