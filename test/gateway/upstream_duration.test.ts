import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { deadAddress } from '../support/dead_address.js';
import { call, startBackend, startGateway } from './support.js';

const NAME = 'gatehouse_gateway_upstream_request_duration_seconds';

/** The samples of the upstream duration histogram for `upstream`, by suffix and `le`. */
function samples(text: string, upstream: string): Map<string, number> {
  const out = new Map<string, number>();
  const pattern = new RegExp(`^${NAME}_(bucket|sum|count)\\{(?:le="([^"]+)",)?upstream="${upstream}"\\} (\\S+)$`, 'gm');
  for (const m of text.matchAll(pattern)) out.set(m[2] === undefined ? m[1]! : `le=${m[2]}`, Number(m[3]));
  return out;
}

describe('gatehouse_gateway_upstream_request_duration_seconds', () => {
  it('observes each answered request once, from its first attempt to the end of the answer, retries included', async () => {
    // Time moves only when the upstream is at work: each answer takes exactly what its handler says.
    const clock = new ManualClock(Date.parse('2026-11-30T12:00:00Z'));
    const backend = await startBackend((req, res) => {
      const ms = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 0);
      req.resume();
      req.on('end', () => {
        clock.advance(ms);
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      });
    });
    const dead = `http://${await deadAddress()}`;
    const gw = await startGateway(
      {
        upstreams: [
          { name: 'orders', hosts: [backend.url] },
          // Round robin starts at the dead host: the first request is answered by the live one after a retry.
          {
            name: 'flaky',
            hosts: [dead, backend.url],
            breaker: { consecutiveFailures: 1000 },
            outlier: { consecutiveFailures: 1000 },
          },
          { name: 'gone', hosts: [dead], breaker: { consecutiveFailures: 1000 } },
        ],
        routes: [
          { name: 'orders', pathPrefix: '/orders', upstream: 'orders' },
          { name: 'flaky', pathPrefix: '/flaky', upstream: 'flaky' },
          { name: 'gone', pathPrefix: '/gone', upstream: 'gone' },
        ],
      },
      { clock },
    );
    try {
      expect((await call(gw, '/orders/a?ms=300')).status).toBe(200);
      expect((await call(gw, '/orders/b?ms=4')).status).toBe(200);
      expect((await call(gw, '/flaky/c?ms=30')).status).toBe(200);
      expect((await call(gw, '/gone/d')).status).toBe(502);
      const text = await gw.gateway.metrics.text();
      expect(text).toContain(`# TYPE ${NAME} histogram`);
      const orders = samples(text, 'orders');
      expect(orders.get('le=0.001')).toBe(0);
      expect(orders.get('le=0.005')).toBe(1); // 4 ms
      expect(orders.get('le=0.25')).toBe(1);
      expect(orders.get('le=0.5')).toBe(2); // 300 ms
      expect(orders.get('le=+Inf')).toBe(2);
      expect(orders.get('count')).toBe(2);
      expect(orders.get('sum')).toBeCloseTo(0.304, 9);
      // The retried request once, for the whole exchange.
      const flaky = samples(text, 'flaky');
      expect(flaky.get('count')).toBe(1);
      expect(flaky.get('le=0.025')).toBe(0);
      expect(flaky.get('le=0.05')).toBe(1);
      expect(text).toMatch(/gatehouse_gateway_retries_total\{upstream="flaky",reason="connect-failure"\} 1\n/);
      // No answer, no observation: the failure is counted as such.
      expect(samples(text, 'gone').get('count')).toBe(0);
      expect(text).toMatch(/gatehouse_gateway_upstream_responses_total\{upstream="gone",class="failed"\} 1\n/);
      // Kept across a reload that rebuilds the upstream (its configuration changed).
      gw.gateway.reload(
        (await import('../../src/config/index.js')).configSchema.parse({
          gateway: {
            upstreams: [{ name: 'orders', hosts: [backend.url], timeout: '20s' }],
            routes: [{ name: 'orders', pathPrefix: '/orders', upstream: 'orders' }],
          },
        }).gateway,
      );
      expect((await call(gw, '/orders/e?ms=2')).status).toBe(200);
      const after = samples(await gw.gateway.metrics.text(), 'orders');
      expect(after.get('count')).toBe(3);
      expect(after.get('le=0.0025')).toBe(1);
    } finally {
      await gw.close();
      await backend.close();
    }
  });
});
