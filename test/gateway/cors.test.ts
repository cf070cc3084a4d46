import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { isGatehouseError } from '../../src/core/index.js';
import { CorsPolicy } from '../../src/gateway/cors_policy.js';
import { call, rawGet, startBackend, startGateway, tableAuthenticator, type RunningGateway } from './support.js';

const APP = 'https://app.example.com';

function policy(cors: Record<string, unknown>, needs: Partial<ConstructorParameters<typeof CorsPolicy>[1]> = {}) {
  const route = configSchema.parse({
    gateway: {
      upstreams: [{ name: 'u', hosts: ['http://127.0.0.1:1'] }],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'u', cors }],
    },
  }).gateway.routes[0]!;
  return new CorsPolicy(route.cors!, { authKind: 'none', apiKeyHeader: 'x-api-key', grpcWeb: false, ...needs });
}

describe('CorsPolicy', () => {
  it('matches exact origins and subdomain wildcards, nothing looser', () => {
    const p = policy({ allowOrigins: [APP, 'https://*.tenant.example', 'http://localhost:3000'] });
    const cases: Array<[string, boolean]> = [
      [APP, true],
      ['http://app.example.com', false], // another scheme
      ['https://app.example.com:8443', false], // another port
      ['https://evil.app.example.com', false], // exact means exact
      ['https://a.tenant.example', true],
      ['https://a.b.tenant.example', true],
      ['https://tenant.example', false], // the wildcard is for subdomains only
      ['https://eviltenant.example', false],
      ['https://a.tenant.example.evil.com', false],
      ['https://a.tenant.example:444', false],
      ['http://a.tenant.example', false],
      ['http://localhost:3000', true],
      ['http://localhost', false],
      ['null', false],
    ];
    for (const [origin, allowed] of cases) expect({ origin, allowed: p.allows(origin) }).toEqual({ origin, allowed });
  });

  it('answers preflights by origin, method and requested headers, naming what it refuses', () => {
    const p = policy(
      { allowOrigins: [APP], allowMethods: ['GET', 'PUT'], allowHeaders: ['X-Trace'] },
      { authKind: 'jwt' },
    );
    const ok = p.preflight(APP, 'PUT', 'Authorization, content-type,x-trace, accept');
    expect(ok).toEqual({
      allowed: true,
      headers: {
        'access-control-allow-origin': APP,
        'access-control-allow-methods': 'GET, PUT',
        'access-control-allow-headers': 'content-type, x-request-id, authorization, x-trace, accept',
        'access-control-max-age': '600',
        vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
      },
    });
    expect(p.preflight('https://evil.example', 'GET', undefined)).toEqual({
      allowed: false,
      reason: 'origin https://evil.example is not allowed',
    });
    expect(p.preflight(APP, 'DELETE', undefined)).toEqual({ allowed: false, reason: 'method DELETE is not allowed' });
    // A safelisted name is asked for only when its value is not safelisted: it is then named in the answer.
    const safelisted = p.preflight(APP, 'GET', 'accept, content-language');
    expect(safelisted.allowed && safelisted.headers['access-control-allow-headers']).toBe(
      'content-type, x-request-id, authorization, x-trace, accept, content-language',
    );
    expect(p.preflight(APP, 'GET', 'x-other')).toEqual({
      allowed: false,
      reason: 'request header x-other is not allowed',
    });
    // An API-key route allows its key header (and Bearer); a route without auth allows neither.
    expect(
      policy({ allowOrigins: [APP] }, { authKind: 'api_key', apiKeyHeader: 'X-Key' }).preflight(APP, 'GET', 'x-key')
        .allowed,
    ).toBe(true);
    expect(policy({ allowOrigins: [APP] }).preflight(APP, 'GET', 'authorization').allowed).toBe(false);
  });

  it('uses * only without credentials, and echoes the origin with them', () => {
    const any = policy({ allowOrigins: ['*'], allowHeaders: ['*'] });
    const pre = any.preflight('https://anyone.example', 'POST', 'x-a, x-b');
    expect(pre.allowed && pre.headers['access-control-allow-origin']).toBe('*');
    // `*` in Access-Control-Allow-Headers would not cover Authorization: the requested names are echoed.
    expect(pre.allowed && pre.headers['access-control-allow-headers']).toBe('x-a, x-b');
    expect(any.answerHeaders('https://anyone.example')).toEqual({
      'access-control-allow-origin': '*',
      'access-control-expose-headers': 'x-request-id, retry-after, ratelimit, ratelimit-policy',
    });
    // The same fields without Origin: nothing varies by origin, so a shared cache may serve any answer to anyone.
    expect(any.answerHeaders(undefined)).toEqual(any.answerHeaders('https://anyone.example'));

    const cred = policy({ allowOrigins: [APP], allowCredentials: true, exposeHeaders: ['ETag'] });
    expect(cred.answerHeaders(APP)).toEqual({
      'access-control-allow-origin': APP,
      'access-control-expose-headers': 'x-request-id, retry-after, ratelimit, ratelimit-policy, etag',
      'access-control-allow-credentials': 'true',
      vary: 'Origin',
    });
    // Not allowed, or no Origin at all: only Vary, so a shared cache never hands one origin's answer to another.
    expect(cred.answerHeaders('https://evil.example')).toEqual({ vary: 'Origin' });
    expect(cred.answerHeaders(undefined)).toEqual({ vary: 'Origin' });
  });

  it('allows and exposes what gRPC-Web clients send and read on gRPC-Web routes', () => {
    const p = policy({ allowOrigins: [APP] }, { grpcWeb: true });
    expect(p.preflight(APP, 'POST', 'content-type, x-grpc-web, x-user-agent, grpc-timeout').allowed).toBe(true);
    expect(p.answerHeaders(APP)?.['access-control-expose-headers']).toBe(
      'x-request-id, retry-after, ratelimit, ratelimit-policy, grpc-status, grpc-message, grpc-status-details-bin',
    );
  });
});

describe('gateway.routes[].cors in the schema', () => {
  const parse = (cors: unknown) =>
    configSchema.safeParse({
      gateway: {
        upstreams: [{ name: 'u', hosts: ['http://127.0.0.1:1'] }],
        routes: [{ name: 'r', pathPrefix: '/', upstream: 'u', cors }],
      },
    });

  it('takes origins only as browsers send them', () => {
    for (const good of [APP, 'http://localhost:3000', 'https://*.example.com', 'http://[::1]:8080', '*']) {
      expect({ good, ok: parse({ allowOrigins: [good] }).success }).toEqual({ good, ok: true });
    }
    for (const bad of [
      'null', // sandboxed frames and file: pages
      'https://app.example.com/', // trailing slash: never equal to an Origin header
      'https://App.example.com',
      'https://app.example.com:443',
      'https://app.example.com/path',
      'app.example.com',
      'ftp://files.example.com',
      'https://*.com', // one label below the wildcard: every .com site
      'https://a*.example.com',
      'https://*.*.example.com',
    ]) {
      expect({ bad, ok: parse({ allowOrigins: [bad] }).success }).toEqual({ bad, ok: false });
    }
    const hint = parse({ allowOrigins: ['https://App.example.com:443'] });
    expect(JSON.stringify(hint.error?.issues)).toContain('here: https://app.example.com');
    expect(parse({ allowOrigins: [] }).success).toBe(false);
  });

  it('refuses credentials with the origin *', () => {
    expect(parse({ allowOrigins: ['*'], allowCredentials: true }).success).toBe(false);
    expect(parse({ allowOrigins: [APP], allowCredentials: true }).success).toBe(true);
  });

  it('refuses a CORS route whose WAF refuses OPTIONS, unless the WAF is off', async () => {
    const route = { name: 'r', pathPrefix: '/', upstream: 'u', cors: { allowOrigins: [APP] } };
    const upstreams = [{ name: 'u', hosts: ['http://127.0.0.1:1'] }];
    const err = await startGateway({ upstreams, routes: [{ ...route, waf: { methods: ['GET', 'POST'] } }] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isGatehouseError(err, 'ERR_CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toContain('gateway.routes.0.cors');
    const off = await startGateway({ upstreams, routes: [{ ...route, waf: { mode: 'off', methods: ['GET'] } }] });
    await off.close();
  });
});

describe('a gateway route with cors', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let gw: RunningGateway;
  const seen: string[] = [];

  beforeAll(async () => {
    backend = await startBackend((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => {
        // An upstream with its own (looser) CORS answer, which the gateway's policy replaces on CORS routes.
        res.writeHead(200, {
          'content-type': 'application/json',
          'access-control-allow-origin': '*',
          'access-control-allow-methods': 'GET, POST, PUT, DELETE',
          vary: 'Accept-Encoding',
          'cache-control': 'public, max-age=60',
        });
        res.end(JSON.stringify({ method: req.method, url: req.url }));
      });
    });
    gw = await startGateway(
      {
        upstreams: [{ name: 'u', hosts: [backend.url] }],
        routes: [
          {
            name: 'api',
            pathPrefix: '/api',
            upstream: 'u',
            auth: { kind: 'jwt' },
            limits: [{ name: 'per-ip', key: ['ip'], rate: 3, per: '1h', burst: 2 }],
            cors: { allowOrigins: [APP, 'https://*.tenant.example'], allowMethods: ['GET', 'PUT'] },
          },
          {
            name: 'public',
            pathPrefix: '/public',
            upstream: 'u',
            cache: { enabled: true },
            cors: { allowOrigins: [APP, 'https://other.example'] },
          },
          { name: 'plain', pathPrefix: '/plain', upstream: 'u' },
          { name: 'ws', pathPrefix: '/ws', upstream: 'u', websocket: true, cors: { allowOrigins: [APP] } },
        ],
      },
      { authenticator: tableAuthenticator({ 'token-a': { sub: 'alice', clientId: 'spa', scopes: [] } }) },
    );
  });

  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  const preflight = (path: string, origin: string, method: string, headers?: string) =>
    call(gw, path, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': method,
        ...(headers === undefined ? {} : { 'access-control-request-headers': headers }),
      },
    });

  it('answers an allowed preflight itself, before authentication and rate limits, with nothing sent upstream', async () => {
    const before = seen.length;
    for (let i = 0; i < 8; i += 1) {
      // more preflights than the route's limit admits (3): preflights are not counted
      const answer = await preflight(
        '/api/orders/1',
        'https://eu.tenant.example',
        'PUT',
        'authorization, content-type',
      );
      expect(answer.status).toBe(204);
      expect(answer.headers['access-control-allow-origin']).toBe('https://eu.tenant.example');
      expect(answer.headers['access-control-allow-methods']).toBe('GET, PUT');
      expect(answer.headers['access-control-allow-headers']).toBe('content-type, x-request-id, authorization');
      expect(answer.headers['access-control-max-age']).toBe('600');
      expect(answer.headers['vary']).toBe('Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
      expect(answer.headers['x-request-id']).toMatch(/./);
    }
    expect(seen.length).toBe(before);
  });

  it('refuses a preflight for an origin, method or header outside the policy with 403 naming it', async () => {
    const cases: Array<[string, string, string | undefined, string]> = [
      ['https://evil.example', 'GET', undefined, 'origin https://evil.example is not allowed'],
      ['https://tenant.example', 'GET', undefined, 'origin https://tenant.example is not allowed'],
      [APP, 'DELETE', undefined, 'method DELETE is not allowed'],
      [APP, 'GET', 'x-api-key', 'request header x-api-key is not allowed'],
    ];
    for (const [origin, method, headers, detail] of cases) {
      const answer = await preflight('/api/x', origin, method, headers);
      expect({ origin, status: answer.status }).toEqual({ origin, status: 403 });
      expect(answer.body).toMatchObject({ code: 'ERR_GATEWAY_CORS_REFUSED', detail });
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
      expect(answer.headers['vary']).toBe('Origin');
    }
    const metrics = await gw.gateway.metrics.text();
    expect(metrics).toMatch(/gatehouse_gateway_cors_preflights_total\{route="api",outcome="allowed"\} ([89]|\d\d)/);
    expect(metrics).toMatch(/gatehouse_gateway_cors_preflights_total\{route="api",outcome="refused"\} [4-9]/);
  });

  it("puts the gateway's CORS fields on answers in place of the upstream's, with Vary: Origin added", async () => {
    const answer = await call(gw, '/api/a', { headers: { origin: APP, authorization: 'Bearer token-a' } });
    expect(answer.status).toBe(200);
    expect(answer.headers['access-control-allow-origin']).toBe(APP);
    expect(answer.headers['access-control-expose-headers']).toBe(
      'x-request-id, retry-after, ratelimit, ratelimit-policy',
    );
    expect(answer.headers['access-control-allow-methods']).toBeUndefined(); // the upstream's, dropped
    expect(answer.headers['vary']).toBe('Accept-Encoding, Origin');
    expect(answer.headers['ratelimit-policy']).toMatch(/per-ip/);

    // An origin outside the policy is answered (a server cannot tell a browser from curl), but without CORS fields:
    // the upstream's `*` does not leak through.
    const evil = await call(gw, '/api/a', {
      headers: { origin: 'https://evil.example', authorization: 'Bearer token-a' },
    });
    expect(evil.status).toBe(200);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    expect(evil.headers['vary']).toBe('Accept-Encoding, Origin');
  });

  it("lets an allowed page read the gateway's own refusals (401, 429)", async () => {
    const unauthenticated = await call(gw, '/api/a', { headers: { origin: APP } });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers['access-control-allow-origin']).toBe(APP);
    expect(unauthenticated.headers['www-authenticate']).toMatch(/^Bearer/);
    // A plain OPTIONS (no Access-Control-Request-Method) is no preflight: it goes through the stages like any request.
    const options = await call(gw, '/api/a', { method: 'OPTIONS', headers: { origin: APP } });
    expect(options.status).toBe(401);
    let last = await call(gw, '/api/a', { headers: { origin: APP, authorization: 'Bearer token-a' } });
    for (let i = 0; i < 6 && last.status !== 429; i += 1) {
      last = await call(gw, '/api/a', { headers: { origin: APP, authorization: 'Bearer token-a' } });
    }
    expect(last.status).toBe(429);
    expect(last.headers['access-control-allow-origin']).toBe(APP);
    expect(last.headers['access-control-expose-headers']).toContain('retry-after');
    expect(last.headers['retry-after']).toMatch(/^\d+$/);
    expect(last.headers['vary']).toBe('Origin');
  });

  it('answers each origin with its own fields from one cached entry', async () => {
    const first = await call(gw, '/public/doc', { headers: { origin: APP } });
    const second = await call(gw, '/public/doc', { headers: { origin: 'https://other.example' } });
    const third = await call(gw, '/public/doc', { headers: { origin: 'https://evil.example' } });
    expect([first.headers['x-cache'], second.headers['x-cache'], third.headers['x-cache']]).toEqual([
      'MISS',
      'HIT',
      'HIT',
    ]);
    expect(first.headers['access-control-allow-origin']).toBe(APP);
    expect(second.headers['access-control-allow-origin']).toBe('https://other.example');
    expect(third.headers['access-control-allow-origin']).toBeUndefined(); // the stored upstream `*` is not served
    for (const a of [first, second, third]) expect(a.headers['vary']).toBe('Accept-Encoding, Origin');
  });

  it("drops the upstream's CORS fields from a WebSocket handshake it answered without 101", async () => {
    const answer = await rawGet(gw, '/ws/x', {
      origin: 'https://evil.example',
      connection: 'upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    });
    expect(answer.status).toBe(200); // the upstream's answer, relayed as an ordinary response
    expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    expect(answer.headers['access-control-allow-methods']).toBeUndefined();
  });

  it('leaves routes without cors alone: preflights go upstream, its CORS fields come back', async () => {
    const answer = await preflight('/plain/x', APP, 'PUT');
    expect(answer.status).toBe(200);
    expect(seen.at(-1)).toBe('OPTIONS /plain/x');
    expect(answer.headers['access-control-allow-origin']).toBe('*');
    expect(answer.headers['vary']).toBe('Accept-Encoding');
  });
});
