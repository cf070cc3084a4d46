// Gateway settings that used to pass the schema and then fail later with an unclear message (an undici error at
// start, "invalid url", a limit with a zero period) or never apply (a route host with a port, a throttle that never
// waits): refused at load with ERR_CONFIG_INVALID naming the key.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { isGatehouseError } from '../../src/core/index.js';

function load(gateway: unknown) {
  const path = join(mkdtempSync(join(tmpdir(), 'gh-config-gw-')), 'gatehouse.json');
  writeFileSync(path, JSON.stringify({ gateway }));
  return loadConfig({ file: path });
}

function refusal(gateway: unknown): string {
  try {
    load(gateway);
  } catch (err) {
    expect(isGatehouseError(err, 'ERR_CONFIG_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected ERR_CONFIG_INVALID');
}

const upstream = (extra: Record<string, unknown>) => ({ name: 'u', hosts: ['http://127.0.0.1:8080'], ...extra });
const route = (extra: Record<string, unknown>) => ({ name: 'r', pathPrefix: '/', upstream: 'u', ...extra });

describe('gateway configuration schema', () => {
  it('accepts http and https origins, with or without a trailing slash', () => {
    const config = load({
      upstreams: [upstream({ hosts: ['http://10.1.0.11:8080', 'https://orders.internal/', 'http://[::1]:9000'] })],
      routes: [route({ host: 'API.example.com' }), route({ name: 'v6', host: '[2001:db8::1]' })],
    });
    expect(config.gateway.upstreams[0]?.hosts).toHaveLength(3);
  });

  it.each([
    ['ftp://127.0.0.1:21'],
    ['http://127.0.0.1:8080/base'],
    ['http://127.0.0.1:8080?x=1'],
    ['http://user:secret@127.0.0.1:8080'],
    ['127.0.0.1:8080'],
  ])('refuses the upstream host %s, naming the key', (host) => {
    expect(refusal({ upstreams: [upstream({ hosts: [host] })] })).toMatch(
      /gateway\.upstreams\.0\.hosts\.0: expected an origin such as http:\/\/10\.1\.0\.11:8080/,
    );
  });

  it('refuses a zero limit period and a zero upstream timeout', () => {
    const limits = [{ name: 'l', key: ['ip'], rate: 1, per: '0s' }];
    expect(refusal({ upstreams: [upstream({})], routes: [route({ limits })] })).toMatch(
      /gateway\.routes\.0\.limits\.0\.per: expected a duration above zero/,
    );
    expect(refusal({ upstreams: [upstream({ timeout: 0 })] })).toMatch(
      /gateway\.upstreams\.0\.timeout: expected a duration above zero/,
    );
  });

  it('refuses a zero outlier baseEjection (the ejection arithmetic divides by it)', () => {
    expect(refusal({ upstreams: [upstream({ outlier: { baseEjection: '0s' } })] })).toMatch(
      /gateway\.upstreams\.0\.outlier\.baseEjection: expected a duration above zero/,
    );
  });

  it('refuses a rate or burst of more than 15 digits (RateLimit headers carry them as Structured Field integers)', () => {
    const limits = (extra: Record<string, unknown>) => [{ name: 'l', key: ['ip'], rate: 1000, ...extra }];
    expect(refusal({ upstreams: [upstream({})], routes: [route({ limits: limits({ rate: 1e15 }) })] })).toMatch(
      /gateway\.routes\.0\.limits\.0\.rate: at most 15 digits/,
    );
    expect(refusal({ upstreams: [upstream({})], routes: [route({ limits: limits({ burst: 1e16 }) })] })).toMatch(
      /gateway\.routes\.0\.limits\.0\.burst: at most 15 digits/,
    );
    expect(
      load({ upstreams: [upstream({})], routes: [route({ limits: limits({ rate: 999_999_999_999_999 }) })] }).gateway
        .routes[0]?.limits[0]?.rate,
    ).toBe(999_999_999_999_999);
  });

  it('refuses a route host with a port (the Host port is never matched)', () => {
    expect(refusal({ upstreams: [upstream({})], routes: [route({ host: 'api.example.com:8443' })] })).toMatch(
      /gateway\.routes\.0\.host: expected a host name or address without a port/,
    );
  });

  it.each([['/api//v1'], ['/%61pi'], ['/a/%2fb'], ['/a/./b'], ['/a/../b'], ['/api?x=1']])(
    'refuses the path prefix %s, which no request matches once normalized (it was accepted and never routed)',
    (pathPrefix) => {
      expect(refusal({ upstreams: [upstream({})], routes: [route({ pathPrefix })] })).toMatch(
        /gateway\.routes\.0\.pathPrefix: expected a normalized path/,
      );
    },
  );

  it('accepts normalized path prefixes', () => {
    const prefixes = ['/', '/api', '/demo/', '/.well-known/', '/a/%2Fb', '/~user'];
    const routes = prefixes.map((pathPrefix, i) => route({ name: `r${i}`, pathPrefix }));
    expect(load({ upstreams: [upstream({})], routes }).gateway.routes).toHaveLength(prefixes.length);
  });

  it('refuses a throttle that never waits (maxWait 0 would delay nothing: a plain limit with burst is nodelay)', () => {
    for (const maxWait of ['0s', 0, '0ms']) {
      const limits = [{ name: 'l', key: ['ip'], rate: 1, throttle: { maxWait } }];
      expect(refusal({ upstreams: [upstream({})], routes: [route({ limits })] })).toMatch(
        /gateway\.routes\.0\.limits\.0\.throttle\.maxWait: expected a duration above zero: a throttle that never waits/,
      );
    }
    const limits = [{ name: 'l', key: ['ip'], rate: 1, throttle: { maxWait: '1ms' } }];
    expect(
      load({ upstreams: [upstream({})], routes: [route({ limits })] }).gateway.routes[0]?.limits[0]?.throttle,
    ).toMatchObject({ maxWait: 1 });
  });

  it('accepts a throttle on a global limit (Redis reserves the slots), with the same bounds as on the local tier', () => {
    const limits = [{ name: 'l', key: ['ip'], rate: 1, tier: 'global', throttle: { maxWait: '100ms' } }];
    expect(load({ upstreams: [upstream({})], routes: [route({ limits })] }).gateway.routes[0]?.limits[0]).toMatchObject(
      { tier: 'global', throttle: { maxWait: 100, maxQueue: 100 } },
    );
    for (const maxWait of ['0s', 0]) {
      const zero = [{ name: 'l', key: ['ip'], rate: 1, tier: 'global', throttle: { maxWait } }];
      expect(refusal({ upstreams: [upstream({})], routes: [route({ limits: zero })] })).toMatch(
        /gateway\.routes\.0\.limits\.0\.throttle\.maxWait: expected a duration above zero/,
      );
    }
    // A wait the timers cannot hold (or a fraction of a millisecond) is refused at load, not at the first request.
    for (const maxWait of ['2h', 0.5]) {
      const odd = [{ name: 'l', key: ['ip'], rate: 1, tier: 'global', throttle: { maxWait } }];
      expect(refusal({ upstreams: [upstream({})], routes: [route({ limits: odd })] })).toMatch(
        /gateway\.routes\.0\.limits\.0\.throttle\.maxWait: expected whole milliseconds, at most 1h/,
      );
    }
  });
});
