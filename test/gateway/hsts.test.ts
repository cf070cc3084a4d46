import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/index.js';
import { MemoryLogger } from '../../src/core/index.js';
import { strictTransportSecurity } from '../../src/gateway/index.js';
import { call, gatewayConfig, startBackend, startGateway } from './support.js';

const YEAR = '365d';

function gatewayWith(hsts: Record<string, unknown> | undefined, backendUrl: string) {
  return {
    ...(hsts ? { hsts } : {}),
    upstreams: [{ name: 'u', hosts: [backendUrl] }],
    routes: [
      {
        name: 'r',
        pathPrefix: '/api/',
        upstream: 'u',
        limits: [{ name: 'tiny', key: ['ip' as const], rate: 1, per: '1h' }],
      },
    ],
  };
}

describe('gateway Strict-Transport-Security (gateway.hsts)', () => {
  it('sends two years without includeSubDomains by default; maxAge 0s sends none and says so in the log', async () => {
    const backend = await startBackend();
    const gw = await startGateway(gatewayWith(undefined, backend.url));
    const logger = new MemoryLogger();
    const off = await startGateway(gatewayWith({ maxAge: '0s' }, backend.url), { logger });
    try {
      const answer = await call(gw, '/api/a');
      expect(answer.status).toBe(200);
      expect(answer.headers['strict-transport-security']).toBe('max-age=63072000');
      const none = await call(off, '/api/a');
      expect(none.status).toBe(200);
      expect(none.headers['strict-transport-security']).toBeUndefined();
      expect(logger.lines.filter((l) => l['event'] === 'gateway_hsts_off' && l.level === 'warn')).toHaveLength(1);
    } finally {
      await gw.close();
      await off.close();
      await backend.close();
    }
  });

  it("adds its value to proxied answers and to the gateway's own refusals; an upstream's own value wins", async () => {
    const backend = await startBackend((req, res) => {
      const own = req.url?.startsWith('/api/own');
      res.writeHead(200, {
        'content-type': 'text/plain',
        ...(own ? { 'strict-transport-security': 'max-age=60' } : {}),
      });
      res.end('ok');
    });
    const gw = await startGateway(gatewayWith({ maxAge: YEAR, includeSubDomains: true }, backend.url));
    try {
      const proxied = await call(gw, '/api/plain');
      expect(proxied.status).toBe(200);
      expect(proxied.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      const limited = await call(gw, '/api/again'); // the one-per-hour limit refuses the second request
      expect(limited.status).toBe(429);
      expect(limited.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      const unrouted = await call(gw, '/elsewhere');
      expect(unrouted.status).toBe(404);
      expect(unrouted.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    } finally {
      await gw.close();
    }
    const second = await startGateway(gatewayWith({ maxAge: YEAR }, backend.url));
    try {
      const own = await call(second, '/api/own');
      expect(own.status).toBe(200);
      expect(own.headers['strict-transport-security']).toBe('max-age=60'); // one field, the upstream's
    } finally {
      await second.close();
      await backend.close();
    }
  });

  it('follows a reload', async () => {
    const backend = await startBackend();
    const gw = await startGateway(gatewayWith({ maxAge: '0s' }, backend.url));
    try {
      expect((await call(gw, '/x')).headers['strict-transport-security']).toBeUndefined();
      gw.gateway.reload(gatewayConfig(gatewayWith({ maxAge: '1d', preload: false }, backend.url)));
      expect((await call(gw, '/x')).headers['strict-transport-security']).toBe('max-age=86400');
    } finally {
      await gw.close();
      await backend.close();
    }
  });

  it('formats the value and refuses a preload the preload list would refuse', () => {
    const day = 86_400_000;
    expect(strictTransportSecurity({ maxAge: 0, includeSubDomains: true, preload: false })).toBeUndefined();
    expect(strictTransportSecurity({ maxAge: 730 * day, includeSubDomains: true, preload: true })).toBe(
      'max-age=63072000; includeSubDomains; preload',
    );
    const parse = (hsts: Record<string, unknown>) => configSchema.safeParse({ gateway: { hsts } });
    expect(parse({ maxAge: YEAR, includeSubDomains: true, preload: true }).success).toBe(true);
    for (const bad of [
      { maxAge: YEAR, preload: true },
      { maxAge: '30d', includeSubDomains: true, preload: true },
    ]) {
      const result = parse(bad);
      expect(result.success).toBe(false);
      expect(JSON.stringify(result.error?.issues)).toContain('preload needs includeSubDomains');
    }
  });
});
