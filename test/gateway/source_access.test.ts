import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { isGatehouseError } from '../../src/core/index.js';
import { SourceAccess } from '../../src/gateway/source_access.js';
import { call, startBackend, startGateway } from './support.js';

function sources(allow: string[], deny: string[] = []) {
  const route = configSchema.parse({
    gateway: {
      upstreams: [{ name: 'u', hosts: ['http://127.0.0.1:1'] }],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'u', sources: { allow, deny } }],
    },
  }).gateway.routes[0]!;
  return SourceAccess.of(route.sources, 'gateway.routes.0.sources');
}

describe('SourceAccess', () => {
  it('refuses what deny lists, and with an allow list whatever is outside it', () => {
    const access = sources(['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'], ['10.9.0.0/16'])!;
    const cases: Array<[string, boolean]> = [
      ['10.1.2.3', true],
      ['10.9.1.1', false], // denied inside an allowed range
      ['192.0.2.7', true], // a bare address is a /32
      ['192.0.2.8', false],
      ['2001:db8::1', true],
      ['2001:db9::1', false],
      ['203.0.113.1', false],
      ['', false], // no address at all is not in any list
    ];
    for (const [address, admitted] of cases) {
      expect({ address, admitted: access.admits(address) }).toEqual({ address, admitted });
    }
    const denyOnly = sources([], ['198.51.100.0/24'])!;
    expect([denyOnly.admits('198.51.100.1'), denyOnly.admits('203.0.113.1')]).toEqual([false, true]);
    expect(denyOnly.admits('')).toBe(false); // no address known: a route with lists refuses
    expect(sources([], [])).toBeUndefined(); // nothing to check
  });

  it('names the entry that is no CIDR', () => {
    let err: unknown;
    try {
      sources(['10.0.0.0/8', '10.0.0.0/33']);
    } catch (e) {
      err = e;
    }
    expect(isGatehouseError(err, 'ERR_CONFIG_INVALID')).toBe(true);
    // A typo must not widen a list: an empty or non-decimal prefix (`Number('')` is 0) or a second `/` is refused.
    for (const typo of ['10.20.0.0/', '10.0.0.0/0x10', '10.0.0.0/8/9', '10.0.0.0/ 8', '2001:db8::/']) {
      expect({
        typo,
        thrown: (() => {
          try {
            sources([typo]);
            return false;
          } catch (e) {
            return isGatehouseError(e, 'ERR_CONFIG_INVALID');
          }
        })(),
      }).toEqual({ typo, thrown: true });
    }
    expect((err as Error).message).toBe(
      'config: gateway.routes.0.sources.allow.1: "10.0.0.0/33" is not an IPv4 or IPv6 CIDR',
    );
  });
});

describe('routes with sources', () => {
  it('refuse a client outside the lists with 403 before the WAF and authentication, whatever the WAF mode', async () => {
    const backend = await startBackend();
    const gw = await startGateway({
      upstreams: [{ name: 'u', hosts: [backend.url] }],
      trustedProxies: ['127.0.0.1'],
      routes: [
        { name: 'local', pathPrefix: '/local', upstream: 'u', sources: { allow: ['127.0.0.0/8'] } },
        { name: 'office', pathPrefix: '/office', upstream: 'u', sources: { allow: ['203.0.113.0/24'] } },
        {
          name: 'blocked',
          pathPrefix: '/blocked',
          upstream: 'u',
          auth: { kind: 'jwt' },
          waf: { mode: 'off' },
          sources: { deny: ['198.51.100.0/24'] },
        },
      ],
    });
    try {
      expect((await call(gw, '/local/a')).status).toBe(200);
      // Behind a trusted proxy the client is the X-Forwarded-For address, read from the right.
      expect((await call(gw, '/office/a', { headers: { 'x-forwarded-for': '203.0.113.9' } })).status).toBe(200);
      const outside = await call(gw, '/office/a', { headers: { 'x-forwarded-for': '203.0.113.9, 192.0.2.1' } });
      expect(outside.status).toBe(403);
      expect(outside.body).toMatchObject({ code: 'ERR_GATEWAY_SOURCE_DENIED' });
      const hits = backend.hits;
      // Refused before authentication: a 403, not the 401 a request without a token would get.
      const denied = await call(gw, '/blocked/a', { headers: { 'x-forwarded-for': '198.51.100.20' } });
      expect(denied.status).toBe(403);
      expect(denied.body).toMatchObject({ code: 'ERR_GATEWAY_SOURCE_DENIED' });
      expect((await call(gw, '/blocked/a', { headers: { 'x-forwarded-for': '192.0.2.1' } })).status).toBe(401);
      expect(backend.hits).toBe(hits);
      const metrics = await gw.gateway.metrics.text();
      expect(metrics).toMatch(/gatehouse_gateway_source_denied_total\{route="office"\} 1\n/);
      expect(metrics).toMatch(/gatehouse_gateway_source_denied_total\{route="blocked"\} 1\n/);
    } finally {
      await gw.close();
      await backend.close();
    }
  });

  it('refuse to load with an entry that is no CIDR, naming it', async () => {
    const err = await startGateway({
      upstreams: [{ name: 'u', hosts: ['http://127.0.0.1:1'] }],
      routes: [{ name: 'r', pathPrefix: '/', upstream: 'u', sources: { deny: ['not-an-address'] } }],
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error).message).toContain('gateway.routes.0.sources.deny.0');
  });
});
