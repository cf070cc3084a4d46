// A flood of shed requests (a full upstream, an open breaker) logs one line per upstream and reason per second, not one
// per request; the metrics still count every refusal.
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { call, recordingLogger, startBackend, startGateway } from './support.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describe('shed log lines', () => {
  it('100 refusals within a second log one line; the next one after the second carries suppressed: 99', async () => {
    const held: ServerResponse[] = [];
    const slow = await startBackend((req, res) => {
      req.resume();
      held.push(res);
    });
    closers.push(() => slow.close());
    const clock = new ManualClock(1_000_000);
    const { logger, lines } = recordingLogger();
    const gw = await startGateway(
      {
        upstreams: [{ name: 'slow', hosts: [slow.url], maxConcurrent: 1, maxQueue: 0 }],
        routes: [{ name: 'r', pathPrefix: '/', upstream: 'slow' }],
      },
      { clock, logger },
    );
    closers.push(() => gw.close());
    const first = call(gw, '/held');
    while (held.length < 1) await new Promise((r) => setTimeout(r, 5));
    const shedLines = () => lines.filter((l) => l.level === 'warn');

    for (let i = 0; i < 100; i += 1) {
      clock.advance(9); // 99 × 9 ms: all within the second of the first
      expect((await call(gw, `/x${i}`)).status).toBe(503);
    }
    expect(shedLines()).toHaveLength(1);
    expect(shedLines()[0]).toMatchObject({
      event: 'gateway_shed',
      upstream: 'slow',
      reason: 'overloaded',
      route: 'r',
      code: 'ERR_GATEWAY_OVERLOADED',
    });
    expect(shedLines()[0]).not.toHaveProperty('suppressed');

    clock.advance(1000);
    expect((await call(gw, '/later')).status).toBe(503);
    expect(shedLines()).toHaveLength(2);
    expect(shedLines()[1]).toMatchObject({ event: 'gateway_shed', upstream: 'slow', suppressed: 99 });
    expect(await gw.gateway.metrics.text()).toContain(
      'gatehouse_gateway_shed_total{upstream="slow",reason="overloaded"} 101',
    );
    held[0]!.end('ok');
    expect((await first).status).toBe(200);
  });

  it('reports what a window counted when it ends with no later refusal (here at close)', async () => {
    const slow = await startBackend((req, res) => {
      req.resume();
      res.writeHead(500).end();
    });
    closers.push(() => slow.close());
    const clock = new ManualClock(1_000_000);
    const { logger, lines } = recordingLogger();
    const gw = await startGateway(
      {
        upstreams: [{ name: 'flaky', hosts: [slow.url], breaker: { consecutiveFailures: 1 } }],
        routes: [{ name: 'r', pathPrefix: '/', upstream: 'flaky' }],
      },
      { clock, logger },
    );
    expect((await call(gw, '/fail')).status).toBe(500); // opens the breaker
    for (let i = 0; i < 5; i += 1) expect((await call(gw, `/x${i}`)).status).toBe(503);
    const shed = () => lines.filter((l) => l.level === 'warn' && l.event !== 'gateway_breaker');
    expect(shed()).toHaveLength(1);
    expect(shed()[0]).toMatchObject({ reason: 'circuit_open', code: 'ERR_CIRCUIT_OPEN' });
    await gw.close();
    expect(shed()).toHaveLength(2);
    expect(shed()[1]).toMatchObject({
      event: 'gateway_shed_suppressed',
      upstream: 'flaky',
      reason: 'circuit_open',
      suppressed: 4,
    });
  });
});
