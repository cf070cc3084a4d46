// Gateway configuration errors found after the schema (they need the whole section: names, references, overlaps)
// name the key path as the schema's own errors do (`config: gateway.routes.2.upstream: ...`), not only the route.
import { describe, expect, it } from 'vitest';
import { silentLogger, systemClock } from '../../src/core/index.js';
import { Gateway, checkUpstreamMtlsHosts } from '../../src/gateway/index.js';
import { gatewayConfig } from './support.js';

const upstream = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  hosts: ['http://127.0.0.1:9'],
  ...extra,
});
const route = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  pathPrefix: `/${name}/`,
  upstream: 'u',
  ...extra,
});

/** The message of the ERR_CONFIG_INVALID a gateway with this section refuses to start with. */
function refusal(section: Parameters<typeof gatewayConfig>[0]): string {
  const config = gatewayConfig(section);
  try {
    new Gateway({ config, clock: systemClock, logger: silentLogger });
  } catch (err) {
    expect((err as { code?: string }).code).toBe('ERR_CONFIG_INVALID');
    return (err as Error).message;
  }
  throw new Error('expected ERR_CONFIG_INVALID');
}

describe('gateway configuration errors name the key path', () => {
  it('an unknown upstream: gateway.routes.<i>.upstream', () => {
    expect(
      refusal({
        upstreams: [upstream('u')],
        routes: [route('a'), route('b'), route('r', { upstream: 'nope' })],
      }),
    ).toBe('config: gateway.routes.2.upstream: route r names unknown upstream nope');
  });

  it('duplicate names: the second one’s name key', () => {
    expect(refusal({ upstreams: [upstream('u'), upstream('u')] })).toBe(
      'config: gateway.upstreams.1.name: two upstreams are named u',
    );
    expect(refusal({ upstreams: [upstream('u')], routes: [route('a'), route('a', { pathPrefix: '/x/' })] })).toBe(
      'config: gateway.routes.1.name: two routes are named a',
    );
    const limit = { name: 'l', key: ['ip'], rate: 1 };
    expect(refusal({ upstreams: [upstream('u')], routes: [route('a', { limits: [limit, limit] })] })).toBe(
      'config: gateway.routes.0.limits.1.name: route a has two limits named l',
    );
  });

  it('a limit key the route never has, two routes on one host and prefix, a bad trusted proxy', () => {
    expect(
      refusal({
        upstreams: [upstream('u')],
        routes: [route('a', { limits: [{ name: 'per-client', key: ['client'], rate: 1 }] })],
      }),
    ).toMatch(/^config: gateway\.routes\.0\.limits\.0\.key: limit per-client of route a counts by client, /);
    expect(refusal({ upstreams: [upstream('u')], routes: [route('a'), route('b', { pathPrefix: '/a/' })] })).toBe(
      'config: gateway.routes.1.pathPrefix: two routes match host (any) and prefix /a/',
    );
    expect(refusal({ upstreams: [upstream('u')], trustedProxies: ['10.0.0.0/8', '10.0.0.0/99'] })).toBe(
      'config: gateway.trustedProxies.1: "10.0.0.0/99" is not an IPv4 or IPv6 CIDR',
    );
  });

  it('an mtls upstream without a mesh identity or with a plain http host', () => {
    const mtls = { spiffeId: 'spiffe://gatehouse.local/ns/shop/sa/orders' };
    expect(refusal({ upstreams: [upstream('plain'), upstream('u', { mtls, hosts: ['https://127.0.0.1:9'] })] })).toBe(
      'config: gateway.upstreams.1.mtls: upstream u uses mtls but this gateway has no mesh identity (gateway.mesh)',
    );
    const section = gatewayConfig({ upstreams: [upstream('u', { mtls, hosts: ['https://127.0.0.1:9', 'http://x'] })] });
    expect(() => checkUpstreamMtlsHosts(section.upstreams[0]!, 'gateway.upstreams.0')).toThrow(
      'config: gateway.upstreams.0.hosts.1: upstream u uses mtls, so its hosts must be https:// origins',
    );
  });
});
