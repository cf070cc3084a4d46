import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { rewritePrefix } from '../../src/gateway/index.js';
import { call, startBackend, startGateway } from './support.js';

describe('rewritePrefix', () => {
  it('replaces the matched prefix with one slash where they join, keeping the rest and the query', () => {
    const cases: Array<[string, string, string, string]> = [
      ['/orders/42?x=1', '/orders', '/', '/42?x=1'],
      ['/orders', '/orders', '/', '/'],
      ['/orders?x=%2F', '/orders', '/', '/?x=%2F'],
      ['/orders/42', '/orders', '/v1', '/v1/42'],
      ['/orders/42', '/orders/', '/v1', '/v1/42'],
      ['/orders/42', '/orders/', '/v1/', '/v1/42'],
      ['/orders/42', '/orders', '/v1/', '/v1/42'],
      ['/orders', '/orders', '/v1', '/v1'],
      ['/a', '/', '/v1', '/v1/a'],
      ['/', '/', '/v1/', '/v1/'],
      ['/a/%2Fb', '/a', '/', '/%2Fb'],
    ];
    for (const [target, prefix, rewrite, expected] of cases) {
      expect({ target, prefix, rewrite, sent: rewritePrefix(target, prefix, rewrite) }).toEqual({
        target,
        prefix,
        rewrite,
        sent: expected,
      });
    }
  });

  it('is refused at load unless it is a normalized path', () => {
    const parse = (prefixRewrite: string) =>
      configSchema.safeParse({
        gateway: {
          upstreams: [{ name: 'u', hosts: ['http://127.0.0.1:1'] }],
          routes: [{ name: 'r', pathPrefix: '/a', upstream: 'u', prefixRewrite }],
        },
      }).success;
    expect(parse('/v1')).toBe(true);
    expect(parse('/')).toBe(true);
    for (const bad of ['v1', '/v1//x', '/v1/../admin', '/v1?x=1', '/%61'])
      expect({ bad, ok: parse(bad) }).toEqual({ bad, ok: false });
  });
});

describe('routes with prefixRewrite', () => {
  it('send the rewritten path upstream with X-Forwarded-Prefix; routes without it are untouched', async () => {
    const backend = await startBackend();
    const gw = await startGateway({
      upstreams: [{ name: 'u', hosts: [backend.url] }],
      routes: [
        { name: 'stripped', pathPrefix: '/orders', upstream: 'u', prefixRewrite: '/' },
        { name: 'versioned', pathPrefix: '/catalog/', upstream: 'u', prefixRewrite: '/api/v2' },
        { name: 'plain', pathPrefix: '/plain', upstream: 'u' },
      ],
    });
    try {
      const seen = async (path: string, headers: Record<string, string> = {}) => {
        const answer = await call(gw, path, { headers });
        expect(answer.status).toBe(200);
        return answer.body as { url: string; headers: Record<string, string> };
      };
      const stripped = await seen('/orders/42?expand=items', { 'x-forwarded-prefix': '/evil' });
      expect(stripped.url).toBe('/42?expand=items');
      expect(stripped.headers['x-forwarded-prefix']).toBe('/orders'); // the caller's copy is replaced
      expect((await seen('/orders')).url).toBe('/');
      // Normalized first: the rewrite applies to the path that was routed.
      expect((await seen('/%63atalog//items/./7')).url).toBe('/api/v2/items/7');
      const plain = await seen('/plain/x', { 'x-forwarded-prefix': '/evil' });
      expect(plain.url).toBe('/plain/x');
      expect(plain.headers['x-forwarded-prefix']).toBeUndefined();
    } finally {
      await gw.close();
      await backend.close();
    }
  });
});
