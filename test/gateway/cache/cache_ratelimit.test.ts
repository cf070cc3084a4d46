import { describe, expect, it } from 'vitest';
import { call, startBackend, startGateway } from '../support.js';

describe('RateLimit fields on cached answers', () => {
  it("carry the gateway's verdict for this request, never the stored upstream's for the client that filled the entry", async () => {
    const backend = await startBackend((req, res) => {
      req.resume();
      res.writeHead(200, {
        'content-type': 'application/json',
        'cache-control': 'public, max-age=60',
        ratelimit: '"app";r=9;t=30',
        'ratelimit-policy': '"app";q=10;w=60',
      });
      res.end('{"ok":true}');
    });
    const gw = await startGateway({
      upstreams: [{ name: 'u', hosts: [backend.url] }],
      routes: [
        {
          name: 'r',
          pathPrefix: '/',
          upstream: 'u',
          cache: { enabled: true },
          limits: [{ name: 'per-ip', key: ['ip'], rate: 50, per: '1s', burst: 10 }],
        },
        { name: 'open', pathPrefix: '/open', upstream: 'u', cache: { enabled: true } },
      ],
    });
    try {
      const miss = await call(gw, '/doc');
      expect(miss.headers['x-cache']).toBe('MISS');
      expect(miss.headers['ratelimit']).toMatch(/^"app";r=9;t=30, "per-ip";r=\d+;t=\d+$/); // the upstream's own, live
      const hit = await call(gw, '/doc');
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.headers['ratelimit']).toMatch(/^"per-ip";r=\d+;t=\d+$/);
      expect(hit.headers['ratelimit-policy']).toBe('"per-ip";q=50;w=1');
      await call(gw, '/open/doc');
      const open = await call(gw, '/open/doc');
      expect(open.headers['x-cache']).toBe('HIT');
      expect(open.headers['ratelimit']).toBeUndefined();
      expect(backend.hits).toBe(2);
    } finally {
      await gw.close();
      await backend.close();
    }
  });
});
