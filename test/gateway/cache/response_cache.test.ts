import { setTimeout as sleep } from 'node:timers/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import {
  ResponseCache,
  cacheKey,
  parseCacheControl,
  routeCacheKey,
  routesToForget,
  type CachedResponse,
} from '../../../src/gateway/index.js';
import { gatewayConfig } from '../support.js';
import { call, startBackend, startGateway, type RunningGateway } from '../support.js';

type Backend = Awaited<ReturnType<typeof startBackend>>;

describe('ResponseCache (unit)', () => {
  const entry = (body: string, over: Partial<CachedResponse> = {}): CachedResponse => ({
    status: 200,
    headers: {},
    body: Buffer.from(body),
    storedAt: 0,
    initialAge: 0,
    freshMs: 10_000,
    directives: parseCacheControl('max-age=10'),
    vary: [],
    varyValues: [],
    ...over,
  });

  it('keeps memory under maxBytes by evicting the least recently used key, and refuses large objects', () => {
    const cache = new ResponseCache({
      clock: new ManualClock(0),
      maxBytes: 4000,
      maxEntries: 100,
      maxObjectSize: 1500,
    });
    expect(cache.store('a', entry('x'.repeat(1000)))).toBe(true);
    expect(cache.store('b', entry('x'.repeat(1000)))).toBe(true);
    cache.lookup('a', {});
    expect(cache.store('c', entry('x'.repeat(1000)))).toBe(true);
    expect(cache.store('big', entry('x'.repeat(2000)))).toBe(false);
    expect(cache.usage.bytes).toBeLessThanOrEqual(4000);
    expect(cache.lookup('b', {})).toBeUndefined();
    expect(cache.lookup('a', {})).toBeDefined();
    expect(cache.lookup('c', {})).toBeDefined();
  });

  it('ages entries and moves through fresh, stale-while-revalidate and stale; stale-if-error has its own window', () => {
    const clock = new ManualClock(0);
    const cache = new ResponseCache({ clock, maxBytes: 1 << 20, maxEntries: 10, maxObjectSize: 1 << 20 });
    const r = entry('x', {
      initialAge: 2,
      directives: parseCacheControl('max-age=10, stale-while-revalidate=5, stale-if-error=60'),
    });
    expect(cache.age(r)).toBe(2);
    expect(cache.freshness(r)).toBe('fresh');
    clock.advance(8_000);
    expect(cache.freshness(r)).toBe('stale-while-revalidate');
    clock.advance(5_000);
    expect(cache.freshness(r)).toBe('stale');
    expect(cache.usableOnError(r)).toBe(true);
    clock.advance(60_000);
    expect(cache.usableOnError(r)).toBe(false);
  });

  it('drops the entries of given routes only, and refuses a fill that started before the drop', () => {
    const cache = new ResponseCache({
      clock: new ManualClock(0),
      maxBytes: 1 << 20,
      maxEntries: 100,
      maxObjectSize: 1 << 20,
    });
    const key = (route: string, path: string) => routeCacheKey(route, cacheKey('GET', 'example.com', path));
    cache.store(key('svc', '/a'), entry('a'));
    cache.store(key('svc-2', '/a'), entry('a2'));
    const started = cache.generation;
    cache.dropRoutes(new Set(['svc']));
    expect(cache.lookup(key('svc', '/a'), {})).toBeUndefined();
    expect(cache.lookup(key('svc-2', '/a'), {})).toBeDefined(); // a name with the same beginning is another route
    expect(cache.usage.entries).toBe(1);
    expect(cache.store(key('svc', '/a'), entry('from the old upstream'), started)).toBe(false);
    expect(cache.store(key('svc', '/a'), entry('new'), cache.generation)).toBe(true);
  });

  it('purges all entries, one route, or those under a path prefix (query included), and counts them', () => {
    const cache = new ResponseCache({
      clock: new ManualClock(0),
      maxBytes: 1 << 20,
      maxEntries: 100,
      maxObjectSize: 1 << 20,
    });
    const key = (route: string, path: string, host = 'example.com') =>
      routeCacheKey(route, cacheKey('GET', host, path));
    const fill = () => {
      for (const k of [
        key('shop', '/products/1'),
        key('shop', '/products/2?color=red'),
        key('shop', '/cart'),
        key('blog', '/products/1'),
        key('blog', '/posts/1', 'odd host'),
      ]) {
        cache.store(k, entry(k));
      }
    };
    fill();
    const started = cache.generation;
    expect(cache.purge({ route: 'shop', pathPrefix: '/products/' })).toBe(2);
    expect(cache.lookup(key('shop', '/cart'), {})).toBeDefined();
    expect(cache.lookup(key('blog', '/products/1'), {})).toBeDefined();
    expect(cache.lookup(key('shop', '/products/1'), {})).toBeUndefined();
    expect(cache.store(key('shop', '/products/3'), entry('fetched before the purge'), started)).toBe(false);
    expect(cache.purge({ pathPrefix: '/posts/' })).toBe(1); // the target is read from the end: a Host with a space
    expect(cache.purge({ route: 'blog' })).toBe(1);
    expect(cache.purge({ route: 'nothing-here' })).toBe(0);
    expect(cache.purge({})).toBe(1);
    expect(cache.usage).toEqual({ bytes: 0, entries: 0 });
  });

  it('forgets the routes a reload gives another upstream, other hosts or other cache settings, or removes', () => {
    const section = (over: { svcUpstream?: string; aHosts?: string[]; svcCache?: boolean; limits?: boolean }) =>
      gatewayConfig({
        upstreams: [
          { name: 'a', hosts: over.aHosts ?? ['http://10.0.0.1'] },
          { name: 'b', hosts: ['http://10.0.0.2'] },
        ],
        routes: [
          {
            name: 'svc',
            pathPrefix: '/svc/',
            upstream: over.svcUpstream ?? 'a',
            cache: { enabled: over.svcCache ?? true },
          },
          {
            name: 'other',
            pathPrefix: '/o/',
            upstream: 'b',
            cache: { enabled: true },
            limits: over.limits ? [{ name: 'l', key: ['ip'], rate: 1 }] : [],
          },
        ],
      });
    const base = section({});
    expect([...routesToForget(base, section({ svcUpstream: 'b' }))]).toEqual(['svc']);
    expect([...routesToForget(base, section({ aHosts: ['http://10.0.0.9'] }))]).toEqual(['svc']);
    expect([...routesToForget(base, section({ svcCache: false }))]).toEqual(['svc']);
    expect([...routesToForget(base, section({ limits: true }))]).toEqual([]);
    expect([...routesToForget(base, { ...base, routes: base.routes.slice(1) })]).toEqual(['svc']);
    // Fills sent otherwise: another path rewrite, other request header rules.
    const changed = (over: Record<string, unknown>) => ({
      ...base,
      routes: base.routes.map((r) => (r.name === 'svc' ? { ...r, ...over } : r)),
    });
    expect([...routesToForget(base, changed({ prefixRewrite: '/v2' }))]).toEqual(['svc']);
    const tenant = { request: { set: { 'x-tenant': 'globex' }, remove: [] }, response: { set: {}, remove: [] } };
    expect([...routesToForget(base, changed({ headers: tenant }))]).toEqual(['svc']);
    const hidden = { request: { set: {}, remove: [] }, response: { set: {}, remove: ['server'] } };
    expect([...routesToForget(base, changed({ headers: hidden }))]).toEqual([]); // applied when served
  });

  it('keys by method, lowercased host with its port, and the target exactly as forwarded', () => {
    expect(cacheKey('HEAD', 'Example.com:8443', '/a/b~?y=2&x=1')).toBe('GET https example.com:8443 /a/b~?y=2&x=1');
    expect(cacheKey('GET', 'example.com', '/a?x=1')).not.toBe(cacheKey('GET', 'other.com', '/a?x=1'));
    expect(cacheKey('GET', 'example.com', '/a?x=1&x=2')).not.toBe(cacheKey('GET', 'example.com', '/a?x=2&x=1'));
    expect(cacheKey('GET', 'example.com:6666', '/a')).not.toBe(cacheKey('GET', 'example.com', '/a'));
  });
});

describe('gateway response cache (RFC 9111 over TLS)', () => {
  let backend: Backend;
  let gw: RunningGateway;
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const seen: IncomingMessage[] = [];
  let fail = false;

  beforeAll(async () => {
    backend = await startBackend((req: IncomingMessage, res: ServerResponse) => {
      seen.push(req);
      const path = (req.url ?? '').split('?')[0]!;
      const send = (status: number, headers: Record<string, string>, body: string) => {
        res.writeHead(status, { 'content-type': 'text/plain', ...headers });
        res.end(body);
      };
      if (fail) return send(503, {}, 'down');
      const cc = path.split('/')[2] ?? '';
      if (path.startsWith('/c/etag')) {
        if (req.headers['if-none-match'] === '"v1"')
          return send(304, { etag: '"v1"', 'cache-control': 'max-age=10' }, '');
        return send(200, { etag: '"v1"', 'cache-control': 'max-age=10', 'content-encoding': 'identity' }, 'etag body');
      }
      if (path.startsWith('/c/vary')) {
        return send(
          200,
          { 'cache-control': 'max-age=60', vary: 'accept-language' },
          `lang ${req.headers['accept-language']}`,
        );
      }
      if (path.startsWith('/c/slow')) {
        setTimeout(() => send(200, { 'cache-control': 'max-age=60' }, 'slow'), 200);
        return;
      }
      if (path.startsWith('/c/cookie')) return send(200, { 'cache-control': 'max-age=60', 'set-cookie': 'a=b' }, 'c');
      if (path.startsWith('/c/host')) {
        return send(
          200,
          { 'cache-control': 'max-age=60' },
          `host ${req.headers['x-forwarded-host']} ${req.headers['x-original-url'] ?? '-'}`,
        );
      }
      send(200, { 'cache-control': decodeURIComponent(cc) }, `body ${seen.length}`);
    });
    gw = await startGateway(
      {
        upstreams: [{ name: 'app', hosts: [backend.url], breaker: { consecutiveFailures: 1000 } }],
        routes: [
          { name: 'cached', pathPrefix: '/c', upstream: 'app', cache: { enabled: true } },
          { name: 'plain', pathPrefix: '/p', upstream: 'app' },
        ],
      },
      { clock },
    );
  });
  afterAll(async () => {
    await gw?.close();
    await backend?.close();
  });

  const hitsFor = (prefix: string) => seen.filter((r) => (r.url ?? '').startsWith(prefix)).length;

  it('serves a fresh max-age response from the cache with Age, and counts hits in /metrics', async () => {
    const a = await call(gw, '/c/max-age%3D60/a');
    clock.advance(3_000);
    const b = await call(gw, '/c/max-age%3D60/a');
    expect(a.status).toBe(200);
    expect(b.body).toBe(a.body);
    expect(b.headers['age']).toBe('3');
    expect(b.headers['x-cache']).toBe('HIT');
    expect(hitsFor('/c/max-age%3D60/a')).toBe(1);
    expect(await gw.gateway.metrics.text()).toMatch(
      /gatehouse_gateway_cache_requests_total\{route="cached",result="hit"\} 1/,
    );
  });

  it('never stores no-store, private, Set-Cookie, or a non-public response to an authenticated request', async () => {
    for (const path of ['/c/no-store/x', '/c/private%2C%20max-age%3D60/x', '/c/cookie/x']) {
      await call(gw, path);
      await call(gw, path);
      expect(hitsFor(path)).toBe(2);
    }
    const auth = { authorization: 'Bearer abc' };
    await call(gw, '/c/max-age%3D60/auth', { headers: auth });
    await call(gw, '/c/max-age%3D60/auth', { headers: auth });
    expect(hitsFor('/c/max-age%3D60/auth')).toBe(2);
    await call(gw, '/c/public%2C%20max-age%3D60/auth', { headers: auth });
    await call(gw, '/c/public%2C%20max-age%3D60/auth', { headers: auth });
    expect(hitsFor('/c/public%2C%20max-age%3D60/auth')).toBe(1);
  });

  it('keeps one variant per Vary header value', async () => {
    const en = await call(gw, '/c/vary', { headers: { 'accept-language': 'en' } });
    const fr = await call(gw, '/c/vary', { headers: { 'accept-language': 'fr' } });
    const en2 = await call(gw, '/c/vary', { headers: { 'accept-language': 'en' } });
    expect([en.body, fr.body, en2.body]).toEqual(['lang en', 'lang fr', 'lang en']);
    expect(hitsFor('/c/vary')).toBe(2);
  });

  it('answers 304 to a matching If-None-Match and revalidates a stale entry with the stored ETag', async () => {
    const first = await call(gw, '/c/etag');
    expect(first.headers['etag']).toBe('"v1"');
    const cond = await call(gw, '/c/etag', { headers: { 'if-none-match': '"v1"' } });
    expect(cond.status).toBe(304);
    // RFC 9110 §15.4.5: the validators and caching fields of the 200, no representation metadata.
    expect(cond.headers).toMatchObject({ etag: '"v1"', 'cache-control': 'max-age=10' });
    expect(cond.headers['content-type']).toBeUndefined();
    expect(cond.headers['content-encoding']).toBeUndefined();
    expect(cond.headers['content-length']).toBeUndefined();
    clock.advance(11_000);
    const again = await call(gw, '/c/etag');
    expect(again.body).toBe('etag body');
    const etagRequests = seen.filter((r) => (r.url ?? '').startsWith('/c/etag'));
    expect(etagRequests.length).toBe(2);
    expect(etagRequests[1]!.headers['if-none-match']).toBe('"v1"');
  });

  it('coalesces concurrent misses into one upstream request', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => call(gw, '/c/slow')));
    expect(answers.every((a) => a.status === 200 && a.body === 'slow')).toBe(true);
    expect(hitsFor('/c/slow')).toBe(1);
  });

  it('serves stale-while-revalidate at once and refreshes in the background; stale-if-error on upstream 5xx', async () => {
    const path = '/c/max-age%3D1%2C%20stale-while-revalidate%3D30%2C%20stale-if-error%3D600/s';
    const first = await call(gw, path);
    clock.advance(5_000);
    const stale = await call(gw, path);
    expect(stale.body).toBe(first.body);
    for (let i = 0; i < 50 && hitsFor(path) < 2; i += 1) await sleep(20);
    expect(hitsFor(path)).toBe(2);
    clock.advance(100_000);
    fail = true;
    try {
      const kept = await call(gw, path);
      expect(kept.status).toBe(200);
      expect(kept.headers['x-cache']).toBe('HIT');
    } finally {
      fail = false;
    }
  });

  it('strips unkeyed forwarding headers so a poisoned variant cannot be stored', async () => {
    const poisoned = await call(gw, '/c/host', {
      headers: { 'x-forwarded-host': 'evil.test', 'x-original-url': '/admin' },
    });
    expect(poisoned.body).toBe('host 127.0.0.1:' + gw.port + ' -');
    const normal = await call(gw, '/c/host');
    expect(normal.body).toBe(poisoned.body);
  });
});
