import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import {
  GatewayLimiter,
  GatewayMetrics,
  LimitKeys,
  OverLimitCache,
  Throttle,
  compileLimits,
  limitKey,
  policyHeader,
  rateLimitHeader,
} from '../../src/gateway/index.js';
import { MemoryLimiterStore } from '../../src/ratelimit/index.js';
import { call, gatewayConfig, startBackend, startGateway, tableAuthenticator, type RunningGateway } from './support.js';

function localLimiter(clock: ManualClock) {
  const metrics = new GatewayMetrics();
  const limiter = new GatewayLimiter({
    local: new MemoryLimiterStore({ clock, maxKeys: 1000 }),
    global: undefined,
    overLimit: new OverLimitCache(100),
    throttle: new Throttle(clock),
    clock,
    metrics,
  });
  return { limiter, metrics };
}

const subject = { route: 'r', clientIp: '192.0.2.1', principal: undefined };

describe('rate-limit headers (draft-ietf-httpapi-ratelimit-headers-11)', () => {
  it('formats RateLimit-Policy as an SF list and RateLimit with r and t', () => {
    expect(
      policyHeader([
        { name: 'per-key', rate: 1000, per: 1000 },
        { name: 'hourly', rate: 100000, per: 3_600_000 },
      ]),
    ).toBe('"per-key";q=1000;w=1, "hourly";q=100000;w=3600');
    expect(rateLimitHeader('per-key', { allowed: false, remaining: 0, retryAfterMs: 1, resetAfterMs: 101 })).toBe(
      '"per-key";r=0;t=1',
    );
    expect(rateLimitHeader('h', { allowed: true, remaining: 7, retryAfterMs: 0, resetAfterMs: 2500 })).toBe(
      '"h";r=7;t=3',
    );
  });
});

describe('local tier', () => {
  it('admits exactly burst + 1 at one instant, then one per emission interval', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const { limiter } = localLimiter(clock);
    const limits = compileLimits(
      gatewayConfig({
        upstreams: [{ name: 'u', hosts: ['http://127.0.0.1:1'] }],
        routes: [
          {
            name: 'r',
            pathPrefix: '/',
            upstream: 'u',
            limits: [{ name: 'per-ip', key: ['ip'], rate: 1000, burst: 100 }],
          },
        ],
      }).routes[0]!.limits,
    );
    let admitted = 0;
    for (let i = 0; i < 500; i += 1) {
      const v = limiter.check('r', limits, subject);
      if (!(v instanceof Promise) && v.outcome === 'admit') admitted += 1;
    }
    expect(admitted).toBe(101);
    clock.advance(1);
    const next = limiter.check('r', limits, subject);
    expect(next).toMatchObject({ outcome: 'admit' });
    expect(limiter.check('r', limits, subject)).toMatchObject({
      outcome: 'limited',
      retryAfterMs: 1,
      violated: ['per-ip'],
    });
    // another address has its own budget
    expect(limiter.check('r', limits, { ...subject, clientIp: '192.0.2.2' })).toMatchObject({ outcome: 'admit' });
  });

  it('keys IPv6 clients by /64: two addresses of one /64 share a budget', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const { limiter } = localLimiter(clock);
    const limits = compileLimits([
      {
        name: 'ip',
        key: ['ip'],
        rate: 1,
        per: 60_000,
        burst: 0,
        tier: 'local',
        shadow: false,
        failure: 'open',
        throttle: undefined,
      },
    ]);
    expect(limiter.check('r', limits, { ...subject, clientIp: '2001:db8:1:2::1' })).toMatchObject({ outcome: 'admit' });
    expect(limiter.check('r', limits, { ...subject, clientIp: '2001:db8:1:2:ffff::9' })).toMatchObject({
      outcome: 'limited',
    });
    expect(limiter.check('r', limits, { ...subject, clientIp: '2001:db8:1:3::1' })).toMatchObject({ outcome: 'admit' });
  });

  it('shadow mode counts but admits', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const { limiter, metrics } = localLimiter(clock);
    const limits = compileLimits([
      {
        name: 'shadowed',
        key: ['route'],
        rate: 1,
        per: 1000,
        burst: 0,
        tier: 'local',
        shadow: true,
        failure: 'open',
        throttle: undefined,
      },
    ]);
    for (let i = 0; i < 5; i += 1) expect(limiter.check('r', limits, subject)).toMatchObject({ outcome: 'admit' });
    const text = await metrics.text();
    expect(text).toContain('gatehouse_gateway_shadow_limited_total{route="r",limit="shadowed"} 4');
  });

  it('never advertises a shadow limit in RateLimit-Policy or RateLimit (it is not enforced)', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const { limiter } = localLimiter(clock);
    const limit = (name: string, shadow: boolean, rate: number) => ({
      name,
      key: ['route' as const],
      rate,
      per: 3_600_000,
      burst: 10,
      tier: 'local' as const,
      shadow,
      failure: 'open' as const,
      throttle: undefined,
    });
    const both = compileLimits([limit('trial', true, 1), limit('hourly', false, 100)]);
    expect(both.policy).toBe('"hourly";q=100;w=3600');
    for (let i = 0; i < 3; i += 1) {
      expect(limiter.check('r', both, subject)).toMatchObject({
        outcome: 'admit',
        policy: '"hourly";q=100;w=3600',
        rateLimit: expect.stringMatching(/^"hourly";r=/),
      });
    }
    const shadowOnly = compileLimits([limit('trial', true, 1)]);
    expect(shadowOnly.policy).toBeUndefined();
    expect(limiter.check('r2', shadowOnly, subject)).toMatchObject({ outcome: 'admit', rateLimit: undefined });
  });

  it('enforces several limits per route (a short burst limit and a long quota)', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const { limiter } = localLimiter(clock);
    const limits = compileLimits([
      {
        name: 'burst',
        key: ['ip'],
        rate: 10,
        per: 1000,
        burst: 0,
        tier: 'local',
        shadow: false,
        failure: 'open',
        throttle: undefined,
      },
      {
        name: 'daily',
        key: ['ip'],
        rate: 3,
        per: 86_400_000,
        burst: 2,
        tier: 'local',
        shadow: false,
        failure: 'open',
        throttle: undefined,
      },
    ]);
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const v = limiter.check('r', limits, subject) as { outcome: string; violated: string[] };
      outcomes.push(v.outcome === 'admit' ? 'ok' : v.violated.join());
      clock.advance(200);
    }
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'daily', 'daily']);
  });
});

describe('429 over HTTP', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let gw: RunningGateway;
  beforeAll(async () => {
    backend = await startBackend();
    gw = await startGateway(
      {
        upstreams: [{ name: 'u', hosts: [backend.url] }],
        routes: [
          {
            name: 'demo',
            pathPrefix: '/demo/',
            upstream: 'u',
            auth: { kind: 'api_key', scopes: ['demo'] },
            limits: [{ name: 'per-key', key: ['api_key'], rate: 1, per: '1m', burst: 2 }],
          },
        ],
      },
      { authenticator: tableAuthenticator({ k1: { sub: 'a', clientId: 'c', scopes: ['demo'], apiKeyId: 'key_a' } }) },
    );
  });
  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  it('sends RateLimit headers on admitted responses and 429 problem+json with Retry-After once over', async () => {
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 4; i += 1) {
      last = await call(gw, '/demo/x', { headers: { 'x-api-key': 'k1' } });
      statuses.push(last.status);
      if (i === 0) {
        expect(last.headers['ratelimit-policy']).toBe('"per-key";q=1;w=60');
        expect(last.headers['ratelimit']).toMatch(/^"per-key";r=2;t=\d+$/);
      }
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(last!.headers['content-type']).toBe('application/problem+json');
    expect(last!.headers['ratelimit-policy']).toBe('"per-key";q=1;w=60');
    expect(last!.headers['ratelimit']).toMatch(/^"per-key";r=0;t=(59|60)$/);
    expect(last!.headers['retry-after']).toMatch(/^(59|60)$/);
    expect(last!.body).toMatchObject({
      type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
      status: 429,
      code: 'ERR_RATE_LIMITED',
      'violated-policies': ['per-key'],
      violated_policies: ['per-key'],
    });
  });
});

describe('RateLimit fields of an upstream that limits too', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let gw: RunningGateway;
  beforeAll(async () => {
    backend = await startBackend((req, res) => {
      req.resume();
      const own = req.url?.includes('own') ?? false;
      res.writeHead(200, {
        'content-type': 'text/plain',
        ...(own ? { 'ratelimit-policy': '"app";q=10;w=60', ratelimit: '"app";r=0;t=30' } : {}),
      });
      res.end('ok');
    });
    gw = await startGateway({
      upstreams: [{ name: 'u', hosts: [backend.url] }],
      routes: [
        {
          name: 'limited',
          pathPrefix: '/',
          upstream: 'u',
          limits: [{ name: 'per-ip', key: ['ip'], rate: 100, per: '1m', burst: 9 }],
        },
      ],
    });
  });
  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  it("keeps the upstream's stricter items and appends the gateway's (never more permissive than the upstream)", async () => {
    const r = await call(gw, '/own');
    expect(r.status).toBe(200);
    expect(r.headers['ratelimit-policy']).toBe('"app";q=10;w=60, "per-ip";q=100;w=60');
    expect(r.headers['ratelimit']).toMatch(/^"app";r=0;t=30, "per-ip";r=\d+;t=\d+$/);
    const plain = await call(gw, '/plain');
    expect(plain.headers['ratelimit-policy']).toBe('"per-ip";q=100;w=60');
    expect(plain.headers['ratelimit']).toMatch(/^"per-ip";r=\d+;t=\d+$/);
  });
});

describe('LimitKeys (limit keys remembered per principal)', () => {
  const principal = (clientId: string) => ({
    kind: 'jwt' as const,
    sub: `user-${clientId}`,
    clientId,
    scopes: new Set<string>(),
    roles: [],
  });

  it('gives the key limitKey builds, the same string for the same principal, and a fresh one per principal', () => {
    const keys = new LimitKeys('per-client', ['client', 'user']);
    const a = principal('svc-a');
    const b = principal('svc-b');
    const first = keys.of('orders', { route: 'orders', clientIp: '192.0.2.1', principal: a });
    expect(first).toBe(
      limitKey('orders', 'per-client', ['client', 'user'], { route: 'orders', clientIp: '192.0.2.1', principal: a }),
    );
    expect(keys.of('orders', { route: 'orders', clientIp: '198.51.100.9', principal: a })).toBe(first);
    expect(keys.of('orders', { route: 'orders', clientIp: '192.0.2.1', principal: b })).toBe(
      'orders/per-client/client=svc-b|user=user-svc-b',
    );
    // Another route name never reuses a key remembered for the first one.
    expect(keys.of('billing', { route: 'billing', clientIp: '192.0.2.1', principal: a })).toBe(
      'billing/per-client/client=svc-a|user=user-svc-a',
    );
  });

  it('builds the key per request when it counts by address or there is no principal', () => {
    const byIp = new LimitKeys('per-ip', ['ip', 'client']);
    const a = principal('svc-a');
    expect(byIp.of('r', { route: 'r', clientIp: '192.0.2.1', principal: a })).toBe(
      'r/per-ip/ip=192.0.2.1|client=svc-a',
    );
    expect(byIp.of('r', { route: 'r', clientIp: '192.0.2.2', principal: a })).toBe(
      'r/per-ip/ip=192.0.2.2|client=svc-a',
    );
    const byClient = new LimitKeys('per-client', ['client']);
    expect(byClient.of('r', { route: 'r', clientIp: '192.0.2.1', principal: undefined })).toBe('r/per-client/client=-');
  });
});

describe('limits keyed by caller', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let gw: RunningGateway;
  const keyed = (kind: 'none' | 'jwt' | 'api_key', key: Array<'api_key' | 'client' | 'user' | 'ip' | 'route'>) => ({
    upstreams: [{ name: 'u', hosts: [backend.url] }],
    routes: [
      {
        name: 'keys',
        pathPrefix: '/',
        upstream: 'u',
        auth: { kind },
        limits: [{ name: 'per-client', key, rate: 1, per: '1m' }],
      },
    ],
  });
  beforeAll(async () => {
    backend = await startBackend();
    // Two API keys without an owner: their principals have no client id.
    const authenticator = tableAuthenticator({
      k1: { sub: 'key_1', clientId: '', scopes: [], apiKeyId: 'key_1' },
      k2: { sub: 'key_2', clientId: '', scopes: [], apiKeyId: 'key_2' },
    });
    gw = await startGateway(keyed('api_key', ['client']), { authenticator });
  });
  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  it('counts an API key without an owner as its own client: one key over its limit does not refuse another', async () => {
    const as = (key: string) => call(gw, '/x', { headers: { 'x-api-key': key } });
    expect((await as('k1')).status).toBe(200);
    expect((await as('k1')).status).toBe(429);
    expect((await as('k2')).status).toBe(200); // was 429: every unowned key counted under client=-
  });

  it('refuses, at start and at reload, a limit keyed by a part the route never has', () => {
    for (const [kind, part] of [
      ['none', 'client'],
      ['none', 'user'],
      ['none', 'api_key'],
      ['jwt', 'api_key'],
    ] as const) {
      expect(() => gw.gateway.reload(gatewayConfig(keyed(kind, ['ip', part]))), `${kind} ${part}`).toThrow(
        new RegExp(
          `routes\\.0\\.limits\\.0\\.key: .* counts by ${part}, which a route with auth.kind ${kind} never has`,
        ),
      );
    }
    for (const [kind, part] of [
      ['none', 'ip'],
      ['none', 'route'],
      ['jwt', 'client'],
      ['jwt', 'user'],
      ['api_key', 'api_key'],
    ] as const) {
      expect(() => gw.gateway.reload(gatewayConfig(keyed(kind, [part]))), `${kind} ${part}`).not.toThrow();
    }
  });
});
