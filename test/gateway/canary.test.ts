// Canary releases: `routes[].canary` sends a share of a route's requests to another upstream (Kong's canary plugin,
// Envoy's weighted clusters), drawn per request or by caller, with a header that always selects the canary.
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { isGatehouseError, MemoryLogger } from '../../src/core/index.js';
import { call, startBackend, startGateway, tableAuthenticator, type RunningGateway } from './support.js';

type Backend = Awaited<ReturnType<typeof startBackend>>;

describe('gateway canary releases (routes[].canary)', () => {
  let stable: Backend;
  let canary: Backend;
  let gw: RunningGateway;
  const logger = new MemoryLogger();
  const keys: Record<string, { sub: string; clientId: string; scopes: string[]; apiKeyId: string }> = {};
  for (let i = 0; i < 200; i++) keys[`key-${i}`] = { sub: `u${i}`, clientId: `c${i}`, scopes: [], apiKeyId: `k${i}` };
  // 60 users of one application (one OAuth client): JWTs with the same client_id and their own subject.
  const users: Record<string, { sub: string; clientId: string; scopes: string[] }> = {};
  for (let i = 0; i < 60; i++) users[`jwt-${i}`] = { sub: `user-${i}`, clientId: 'web-app', scopes: [] };

  const named = (name: string) => (_req: unknown, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=60' });
    res.end(JSON.stringify({ from: name }));
  };
  const config = (percent: number, more: object = {}) => ({
    upstreams: [
      { name: 'orders-v1', hosts: [stable.url] },
      { name: 'orders-v2', hosts: [canary.url] },
    ],
    routes: [
      {
        name: 'random',
        pathPrefix: '/random/',
        upstream: 'orders-v1',
        canary: { upstream: 'orders-v2', percent, header: { name: 'x-canary', value: 'always' } },
      },
      {
        name: 'sticky',
        pathPrefix: '/sticky/',
        upstream: 'orders-v1',
        auth: { kind: 'api_key' as const },
        canary: { upstream: 'orders-v2', percent, hashOn: 'client' as const },
      },
      {
        name: 'users',
        pathPrefix: '/users/',
        upstream: 'orders-v1',
        auth: { kind: 'jwt' as const },
        canary: { upstream: 'orders-v2', percent, hashOn: 'client' as const },
      },
      {
        name: 'cached',
        pathPrefix: '/cached/',
        upstream: 'orders-v1',
        cache: { enabled: true },
        canary: { upstream: 'orders-v2', percent, header: { name: 'x-canary', value: 'always' } },
      },
      { name: 'plain', pathPrefix: '/plain/', upstream: 'orders-v1' },
    ],
    ...more,
  });

  beforeAll(async () => {
    stable = await startBackend(named('v1'));
    canary = await startBackend(named('v2'));
    gw = await startGateway(config(20), { authenticator: tableAuthenticator({ ...keys, ...users }), logger });
  });
  afterAll(async () => {
    await gw.close();
    await stable.close();
    await canary.close();
  });

  const from = async (path: string, headers: Record<string, string> = {}) => {
    const r = await call(gw, path, { headers });
    expect(r.status).toBe(200);
    return (r.body as { from: string }).from;
  };

  it('sends about `percent` of the requests to the canary, drawn per request', async () => {
    const counts = { v1: 0, v2: 0 } as Record<string, number>;
    for (let i = 0; i < 400; i++) counts[await from('/random/x')]! += 1;
    // 20 % of 400 = 80; a binomial draw stays within 80 ± 40 far beyond 5 sigma (sd 8).
    expect(counts.v2).toBeGreaterThan(40);
    expect(counts.v2).toBeLessThan(120);
    expect(counts.v1! + counts.v2!).toBe(400);
    const metrics = await gw.gateway.metrics.text();
    expect(metrics).toContain(
      `gatehouse_gateway_canary_routed_total{route="random",upstream="orders-v2"} ${counts.v2}`,
    );
    expect(metrics).toContain(
      `gatehouse_gateway_canary_routed_total{route="random",upstream="orders-v1"} ${counts.v1}`,
    );
    // A route without a canary is not counted there.
    await from('/plain/x');
    expect(await gw.gateway.metrics.text()).not.toContain('route="plain",upstream=');
  });

  it('sends a request with the canary header to the canary, whatever the draw', async () => {
    for (let i = 0; i < 20; i++) expect(await from('/random/x', { 'x-canary': 'always' })).toBe('v2');
    // Another value is an ordinary request.
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) seen.add(await from('/random/x', { 'x-canary': 'please' }));
    expect(seen).toEqual(new Set(['v1', 'v2']));
  });

  it("counts each side's answers apart (upstream_responses_total): the canary's error rate can be read", async () => {
    const answers = async (upstream: string) => {
      const text = await gw.gateway.metrics.text();
      const line = new RegExp(
        `gatehouse_gateway_upstream_responses_total\\{upstream="${upstream}",class="2xx"\\} (\\d+)`,
      );
      return Number(line.exec(text)?.[1] ?? 0);
    };
    const [v1, v2] = [await answers('orders-v1'), await answers('orders-v2')];
    for (let i = 0; i < 7; i++) expect(await from('/random/x', { 'x-canary': 'always' })).toBe('v2');
    expect(await from('/plain/x')).toBe('v1');
    expect([await answers('orders-v1'), await answers('orders-v2')]).toEqual([v1 + 1, v2 + 7]);
  });

  it('keeps each caller on one side with hashOn: client, and only adds callers when the percent rises', async () => {
    const side = async () => {
      const out: Record<string, string> = {};
      for (const key of Object.keys(keys)) {
        const first = await from('/sticky/x', { 'x-api-key': key });
        for (let i = 0; i < 2; i++) expect(await from('/sticky/x', { 'x-api-key': key })).toBe(first);
        out[key] = first;
      }
      return out;
    };
    const at20 = await side();
    const canaried = Object.values(at20).filter((v) => v === 'v2').length;
    expect(canaried).toBeGreaterThan(10); // about 40 of 200
    expect(canaried).toBeLessThan(80);
    gw.gateway.reload(configSchema.parse({ gateway: config(60) }).gateway);
    const at60 = await side();
    for (const key of Object.keys(keys)) if (at20[key] === 'v2') expect(at60[key]).toBe('v2');
    expect(Object.values(at60).filter((v) => v === 'v2').length).toBeGreaterThan(canaried);
    // The access line names the upstream drawn on a canary route.
    const line = logger.lines.filter((l) => l.route === 'sticky' && l.upstream !== undefined).at(-1);
    expect(['orders-v1', 'orders-v2']).toContain(line?.upstream);
  });

  it('spreads the users of one JWT client over both sides with hashOn: client (the subject decides)', async () => {
    gw.gateway.reload(configSchema.parse({ gateway: config(50) }).gateway);
    const sides = new Set<string>();
    for (const token of Object.keys(users)) {
      const first = await from('/users/x', { authorization: `Bearer ${token}` });
      expect(await from('/users/x', { authorization: `Bearer ${token}` })).toBe(first);
      sides.add(first);
    }
    expect(sides).toEqual(new Set(['v1', 'v2']));
  });

  it("keeps each side's cached answers apart, and drops them when the canary is rolled back", async () => {
    gw.gateway.reload(configSchema.parse({ gateway: config(0) }).gateway);
    // A request the header sends to the canary fills the canary's entry only: the others still get v1.
    expect(await from('/cached/item', { 'x-canary': 'always' })).toBe('v2');
    for (let i = 0; i < 5; i++) expect(await from('/cached/item')).toBe('v1');
    const hits = stable.hits;
    expect(await from('/cached/item')).toBe('v1'); // from the cache now
    expect(stable.hits).toBe(hits);
    expect(await from('/cached/item', { 'x-canary': 'always' })).toBe('v2'); // the canary's own entry
    // At 100 % every request is the canary's and fills its side; removing the canary forgets the route's entries.
    gw.gateway.reload(configSchema.parse({ gateway: config(100) }).gateway);
    expect(await from('/cached/other')).toBe('v2');
    const withoutCanary = config(0);
    withoutCanary.routes = withoutCanary.routes.map((r) => {
      const { canary: _canary, ...rest } = r as typeof r & { canary?: unknown };
      return rest as typeof r;
    });
    gw.gateway.reload(configSchema.parse({ gateway: withoutCanary }).gateway);
    expect(await from('/cached/other')).toBe('v1');
    expect(await from('/cached/item', { 'x-canary': 'always' })).toBe('v1'); // no canary: the header means nothing
  });

  it('sends everything to the canary at 100 and nothing at 0 (reloadable)', async () => {
    gw.gateway.reload(configSchema.parse({ gateway: config(100) }).gateway);
    for (let i = 0; i < 20; i++) expect(await from('/random/x')).toBe('v2');
    gw.gateway.reload(configSchema.parse({ gateway: config(0) }).gateway);
    for (let i = 0; i < 20; i++) expect(await from('/random/x')).toBe('v1');
    expect(await from('/random/x', { 'x-canary': 'always' })).toBe('v2'); // the header still selects it
  });

  it('refuses at load a canary naming an unknown upstream, its own upstream, or one of another protocol', () => {
    const load = (canaryRule: object, upstreams?: object[]) => {
      const base = config(10);
      const gateway = {
        ...base,
        upstreams: upstreams ?? base.upstreams,
        routes: [{ name: 'r', pathPrefix: '/', upstream: 'orders-v1', canary: canaryRule }],
      };
      try {
        gw.gateway.reload(configSchema.parse({ gateway }).gateway);
        return 'loaded';
      } catch (err) {
        expect(isGatehouseError(err, 'ERR_CONFIG_INVALID')).toBe(true);
        return (err as Error & { detail?: string }).detail ?? (err as Error).message;
      }
    };
    expect(load({ upstream: 'nope', percent: 5 })).toMatch(/routes\.0\.canary\.upstream.*unknown upstream nope/);
    expect(load({ upstream: 'orders-v1', percent: 5 })).toMatch(/its own upstream/);
    expect(
      load({ upstream: 'orders-v2', percent: 5 }, [
        { name: 'orders-v1', hosts: [stable.url] },
        { name: 'orders-v2', hosts: [canary.url], protocol: 'h2c' },
      ]),
    ).toMatch(/different protocols/);
    expect(() => configSchema.parse({ gateway: { ...config(101) } })).toThrow();
    expect(() => configSchema.parse({ gateway: { ...config(0.004) } })).toThrow(/two decimals/);
    expect(configSchema.parse({ gateway: config(0.29) }).gateway.routes[0]!.canary?.percent).toBe(0.29);
    // The running configuration is the last good one.
    gw.gateway.reload(configSchema.parse({ gateway: config(0) }).gateway);
  });
});
