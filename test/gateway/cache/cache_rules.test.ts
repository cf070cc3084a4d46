// RFC 9111 rules the cache stage must keep beyond the basics in response_cache.test.ts: the key is what the upstream
// is asked (no poisoning through the Host port, slashes, escapes or parameter order), no-cache and must-revalidate
// responses are never served unvalidated, unsafe requests invalidate, 304 only for a stored 2xx, API keys never reach
// the upstream on a cached route, a Vary field hidden from the upstream by Connection never files a variant, an object over maxObjectSize is not downloaded whole twice, and an upstream that
// fails in the middle of a body fails the fill (502) instead of ending the process or storing a truncated body.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import type { Authenticator } from '../../../src/gateway/index.js';
import { call, rawGet, startBackend, startGateway, type RunningGateway } from '../support.js';

type Backend = Awaited<ReturnType<typeof startBackend>>;

const apiKeys: Authenticator = {
  authenticate: (headers) => ({
    kind: 'api_key',
    sub: 'svc',
    clientId: '',
    scopes: new Set(['read']),
    roles: [],
    apiKeyId: headers['x-api-key'] === 'ghk_secret' ? 'key1' : 'other',
  }),
};

describe('gateway cache rules (RFC 9111)', () => {
  let backend: Backend;
  let gw: RunningGateway;
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const seen: IncomingMessage[] = [];
  let fail = false;
  let bigBytesSent = 0;
  const hits = (path: string) => seen.filter((r) => r.url === path).length;

  beforeAll(async () => {
    backend = await startBackend((req: IncomingMessage, res: ServerResponse) => {
      seen.push(req);
      req.resume();
      const url = req.url ?? '';
      const send = (status: number, headers: Record<string, string>, body: string) => {
        res.writeHead(status, { 'content-type': 'text/plain', ...headers });
        res.end(body);
      };
      if (fail) return send(503, {}, 'down');
      if (url.startsWith('/c/big')) {
        // 4 MiB in 64 KiB writes, with backpressure: a reader that stops early leaves most of it unsent.
        const chunk = Buffer.alloc(65536, 120);
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(64 * chunk.length) });
        let n = 0;
        const pump = () => {
          while (n < 64) {
            n += 1;
            bigBytesSent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        return pump();
      }
      if (url.startsWith('/c/lang')) {
        const lang = req.headers['accept-language'] ?? 'default';
        res.writeHead(200, {
          'content-type': 'application/json',
          'cache-control': 'max-age=60',
          vary: 'Accept-Language',
        });
        return void res.end(JSON.stringify({ lang }));
      }
      if (url.startsWith('/c/cut')) {
        // Headers and part of the body, then the connection is lost.
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '100' });
        res.write('partial');
        return void setTimeout(() => res.socket?.destroy(), 20);
      }
      if (url.startsWith('/c/nocache')) {
        return send(
          200,
          { 'cache-control': 'no-cache', 'last-modified': new Date(0).toUTCString() },
          `n${seen.length}`,
        );
      }
      if (url.startsWith('/c/mustrev')) {
        return send(200, { 'cache-control': 'max-age=1, must-revalidate, stale-if-error=600' }, 'kept?');
      }
      if (url.startsWith('/c/bytes')) {
        const modified = new Date(Date.now() - 3_600_000).toUTCString();
        return send(200, { 'cache-control': 'max-age=60', etag: '"b1"', 'last-modified': modified }, '0123456789');
      }
      if (url.startsWith('/c/missing')) return send(404, { etag: '"m"', 'cache-control': 'max-age=60' }, 'nope');
      if (url.startsWith('/c/link')) {
        return send(200, { 'cache-control': 'max-age=60' }, `${req.headers['x-forwarded-host']} ${url}`);
      }
      if (url.startsWith('/k/who')) {
        const id = String(req.headers['x-gatehouse-key-id']);
        return send(200, { 'cache-control': 'public, max-age=60', vary: 'X-Gatehouse-Key-Id' }, id);
      }
      if (url.startsWith('/k/')) {
        return send(
          200,
          { 'cache-control': 'public, max-age=60' },
          `${req.headers['x-api-key'] ?? '-'} ${req.headers['x-gatehouse-key-id'] ?? '-'}`,
        );
      }
      send(200, { 'cache-control': 'max-age=60' }, `${req.method} ${url} #${seen.length}`);
    });
    gw = await startGateway(
      {
        upstreams: [{ name: 'app', hosts: [backend.url], breaker: { consecutiveFailures: 1000 } }],
        routes: [
          { name: 'cached', pathPrefix: '/c', upstream: 'app', cache: { enabled: true } },
          {
            name: 'keyed',
            pathPrefix: '/k',
            upstream: 'app',
            cache: { enabled: true },
            auth: { kind: 'api_key', scopes: ['read'] },
          },
        ],
        cache: { maxObjectSize: 256 * 1024 },
      },
      { clock, authenticator: apiKeys },
    );
  });
  afterAll(async () => {
    await gw?.close();
    await backend?.close();
  });

  it('keys the Host with its port: another port cannot plant links in the plain host entry', async () => {
    const host = 'localhost';
    const planted = await call(gw, '/c/link/a', { headers: { host: `${host}:6666` } });
    expect(planted.body).toBe('localhost:6666 /c/link/a');
    const victim = await call(gw, '/c/link/a', { headers: { host } });
    expect(victim.body).toBe('localhost /c/link/a');
    expect(hits('/c/link/a')).toBe(2);
  });

  it('forwards the normalized target it keys on: slashes, dots and escapes reach the upstream resolved', async () => {
    const a = await call(gw, '/c//x/./%7Euser/../d');
    const b = await call(gw, '/c/x/d');
    expect(a.body).toBe(b.body);
    expect(a.body).toMatch(/^GET \/c\/x\/d #/);
    expect(seen.filter((r) => r.url === '/c/x/d')).toHaveLength(1);
    expect(seen.some((r) => (r.url ?? '').includes('//') || (r.url ?? '').includes('/.'))).toBe(false);
  });

  it('keeps the order of query parameters: ?id=2&id=1 cannot answer ?id=1&id=2', async () => {
    const first = await call(gw, '/c/q?id=2&id=1');
    const second = await call(gw, '/c/q?id=1&id=2');
    expect(first.body).toMatch(/^GET \/c\/q\?id=2&id=1 #/);
    expect(second.body).toMatch(/^GET \/c\/q\?id=1&id=2 #/);
  });

  it('answers only-if-cached from a usable stored response, else 504 without asking the upstream', async () => {
    const onlyIfCached = (extra = '') => call(gw, '/c/oic', { headers: { 'cache-control': `only-if-cached${extra}` } });
    const none = await onlyIfCached();
    expect(none.status).toBe(504);
    expect(none.body.code).toBe('ERR_GATEWAY_NOT_CACHED');
    expect(hits('/c/oic')).toBe(0);
    expect((await call(gw, '/c/oic')).status).toBe(200); // stored, fresh for 60 s
    const hit = await onlyIfCached();
    expect(hit.status).toBe(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect((await onlyIfCached(', no-cache')).status).toBe(504); // no-cache: nothing stored may be used unvalidated
    clock.advance(61_000); // stale, and the response allows no stale use
    expect((await onlyIfCached()).status).toBe(504);
    expect(hits('/c/oic')).toBe(1);
    const text = await gw.gateway.metrics.text();
    expect(text).toContain('gatehouse_gateway_cache_requests_total{route="cached",result="only_if_cached"} 3');
  });

  it('serves one byte range of a stored 200 (206), 416 when none exists, and the whole 200 when it may ignore Range', async () => {
    const get = (headers: Record<string, string>, method = 'GET') => call(gw, '/c/bytes', { headers, method });
    const first = await get({ range: 'bytes=2-4' }); // a miss: the fill fetches the whole, the client gets its part
    expect(first.status).toBe(206);
    expect(first.body).toBe('234');
    expect(first.headers['content-range']).toBe('bytes 2-4/10');
    expect(first.headers['content-length']).toBe('3');
    expect(first.headers['accept-ranges']).toBe('bytes');
    const suffix = await get({ range: 'bytes=-3' });
    expect([suffix.status, suffix.body, suffix.headers['x-cache']]).toEqual([206, '789', 'HIT']);
    expect((await get({ range: 'bytes=8-' })).body).toBe('89');
    expect((await get({ range: 'bytes=0-1, 2-3' })).body).toBe('0123'); // touching ranges: one span
    const none = await get({ range: 'bytes=20-' });
    expect(none.status).toBe(416);
    expect(none.headers['content-range']).toBe('bytes */10');
    expect(none.body.code).toBe('ERR_GATEWAY_RANGE_NOT_SATISFIABLE');
    // Ignored, the whole representation sent: disjoint ranges, another unit, an invalid spec, an If-Range that does
    // not hold (another tag, a weak one), and HEAD.
    const ignored: Array<Record<string, string>> = [
      { range: 'bytes=0-1,5-6' },
      { range: 'items=0-1' },
      { range: 'bytes=5-2' },
      { range: 'bytes=0-1', 'if-range': '"other"' },
      { range: 'bytes=0-1', 'if-range': 'W/"b1"' },
    ];
    for (const headers of ignored) {
      const whole = await get(headers);
      expect([whole.status, whole.body]).toEqual([200, '0123456789']);
    }
    const head = await get({ range: 'bytes=0-1' }, 'HEAD');
    expect([head.status, head.headers['content-length']]).toEqual([200, '10']);
    expect((await get({ range: 'bytes=0-0', 'if-range': '"b1"' })).body).toBe('0');
    expect(hits('/c/bytes')).toBe(1);
    expect(seen.filter((r) => r.url === '/c/bytes').every((r) => r.headers.range === undefined)).toBe(true);
  });

  it('revalidates a no-cache response on every use, even with heuristic freshness available', async () => {
    const a = await call(gw, '/c/nocache');
    const b = await call(gw, '/c/nocache');
    expect(hits('/c/nocache')).toBe(2);
    expect(b.body).not.toBe(a.body);
  });

  it('never serves a must-revalidate response stale, even with stale-if-error', async () => {
    expect((await call(gw, '/c/mustrev')).status).toBe(200);
    clock.advance(5_000);
    fail = true;
    try {
      const after = await call(gw, '/c/mustrev');
      expect(after.status).toBe(503);
    } finally {
      fail = false;
    }
  });

  it('drops the stored response of a target after a successful unsafe request to it', async () => {
    const before = await call(gw, '/c/item/7');
    expect((await call(gw, '/c/item/7')).body).toBe(before.body);
    const deleted = await call(gw, '/c/item/7', { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    const after = await call(gw, '/c/item/7');
    expect(after.body).not.toBe(before.body);
    expect(seen.filter((r) => r.url === '/c/item/7').map((r) => r.method)).toEqual(['GET', 'DELETE', 'GET']);
  });

  it('answers 304 to a matching If-None-Match only for a stored 2xx', async () => {
    expect((await call(gw, '/c/missing')).status).toBe(404);
    const cond = await call(gw, '/c/missing', { headers: { 'if-none-match': '"m"' } });
    expect(cond.status).toBe(404);
    expect(hits('/c/missing')).toBe(1);
  });

  it('removes the API key before a cache fill: the upstream gets the key id, never the key', async () => {
    const r = await call(gw, '/k/report', { headers: { 'x-api-key': 'ghk_secret' } });
    expect(r.status).toBe(200);
    expect(r.body).toBe('- key1');
    expect(seen.filter((s) => s.url === '/k/report').every((s) => s.headers['x-api-key'] === undefined)).toBe(true);
  });

  it('streams an object over maxObjectSize to the client and stops the cache fill at the bound', async () => {
    const r = await call(gw, '/c/big');
    expect(r.status).toBe(200);
    expect(String(r.body).length).toBe(4 * 1024 * 1024);
    expect(hits('/c/big')).toBe(2); // the stopped fill, then the proxy stage's own request
    // The fill read about maxObjectSize and stopped: far less than two whole copies left the upstream.
    expect(bigBytesSent).toBeLessThan(2 * 4 * 1024 * 1024);
  });

  it('answers 502 when the upstream fails in the middle of the body, and stores nothing of it', async () => {
    const first = await call(gw, '/c/cut');
    expect(first.status).toBe(502);
    expect(first.body).toMatchObject({ code: 'ERR_GATEWAY_UPSTREAM_FAILED' });
    const second = await call(gw, '/c/cut');
    expect(second.status).toBe(502);
    expect(hits('/c/cut')).toBe(2); // the truncated answer was not stored
    expect((await call(gw, '/c/after-cut')).status).toBe(200); // the gateway is still serving
  });

  it('stores no variant keyed on a Vary field the caller hid from the upstream with Connection', async () => {
    const hidden = await rawGet(gw, '/c/lang', { 'accept-language': 'fr', connection: 'keep-alive, Accept-Language' });
    expect(hidden.body).toEqual({ lang: 'default' }); // hop-by-hop: the upstream never saw the field
    const reader = await rawGet(gw, '/c/lang', { 'accept-language': 'fr' });
    expect(reader.body).toEqual({ lang: 'fr' });
    expect((await rawGet(gw, '/c/lang', { 'accept-language': 'fr' })).body).toEqual({ lang: 'fr' });
    expect(hits('/c/lang')).toBe(2); // the fr variant was stored from the honest request only
  });

  it('files no variant under a Vary field the gateway sets itself (per-key answers stay per key)', async () => {
    const first = await call(gw, '/k/who', { headers: { 'x-api-key': 'ghk_secret' } });
    expect(first.body).toBe('key1');
    const other = await call(gw, '/k/who', { headers: { 'x-api-key': 'ghk_other' } });
    expect(other.body).toBe('other'); // not key1's answer, stored under the caller-sent (absent) identity header
    expect(hits('/k/who')).toBe(2);
  });
});
