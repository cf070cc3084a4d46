import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/index.js';
import { GatewayLimiter, GatewayMetrics, OverLimitCache, Throttle, compileLimits } from '../../src/gateway/index.js';
import { MemoryLimiterStore } from '../../src/ratelimit/index.js';

function throttledLimiter(maxWait: number, maxQueue: number, rate = 50, per = 1000) {
  const metrics = new GatewayMetrics();
  const limiter = new GatewayLimiter({
    local: new MemoryLimiterStore({ clock: systemClock, maxKeys: 1000 }),
    global: undefined,
    overLimit: new OverLimitCache(10),
    throttle: new Throttle(systemClock),
    clock: systemClock,
    metrics,
  });
  // 50 per second, no burst: one every 20 ms.
  const limits = compileLimits([
    {
      name: 't',
      key: ['ip'],
      rate,
      per,
      burst: 0,
      tier: 'local',
      shadow: false,
      failure: 'open',
      throttle: { maxWait, maxQueue },
    },
  ]);
  const check = (ip: string) =>
    Promise.resolve(limiter.check('r', limits, { route: 'r', clientIp: ip, principal: undefined }));
  return { check, metrics };
}

describe('throttling', () => {
  it('delays requests over the limit in FIFO order instead of refusing them', async () => {
    const { check, metrics } = throttledLimiter(1000, 10);
    const order: number[] = [];
    const all = Array.from({ length: 5 }, (_, i) =>
      check('192.0.2.1').then((v) => {
        order.push(i);
        return v.outcome;
      }),
    );
    expect(await Promise.all(all)).toEqual(['admit', 'admit', 'admit', 'admit', 'admit']);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(await metrics.text()).toContain(
      'gatehouse_gateway_throttled_total{route="r",limit="t",outcome="admitted"} 4',
    );
  });

  it('refuses with 429 past the maximum queue, and past the maximum wait', async () => {
    const queue = throttledLimiter(1000, 2);
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () => queue.check('192.0.2.1').then((v) => v.outcome)),
    );
    expect(outcomes).toEqual(['admit', 'admit', 'admit', 'limited', 'limited']);

    const wait = throttledLimiter(50, 100); // room for about two waits of 20 ms
    const waited = await Promise.all(Array.from({ length: 8 }, () => wait.check('192.0.2.1').then((v) => v.outcome)));
    expect(waited[0]).toBe('admit');
    expect(waited.filter((o) => o === 'admit').length).toBeGreaterThanOrEqual(2);
    expect(waited.filter((o) => o === 'limited').length).toBeGreaterThanOrEqual(3);
    expect(waited.slice(waited.indexOf('limited'))).not.toContain('admit'); // FIFO: no later request overtakes
  });

  it('a refusal behind a full queue says when the next free slot is, not "now"', async () => {
    // One request every 10 s: the first is admitted, the second queues (maxWait 60 s), the third finds the queue full.
    const { check } = throttledLimiter(60_000, 1, 1, 10_000);
    const first = await check('192.0.2.9');
    expect(first.outcome).toBe('admit');
    void check('192.0.2.9'); // waits about 10 s in the queue (never awaited: the test ends first)
    const refused = await check('192.0.2.9');
    expect(refused.outcome).toBe('limited');
    // Admitted only after the queued request: about 20 s from now, never 0.
    expect(refused.retryAfterMs).toBeGreaterThan(15_000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(20_000);
    expect(refused.rateLimit).toMatch(/^"t";r=0;t=(1[6-9]|20)$/);
  });

  it('is fair across keys: a long queue of one key does not delay another key', async () => {
    const { check } = throttledLimiter(2000, 100);
    const finished: string[] = [];
    const a = Array.from({ length: 20 }, (_, i) => check('192.0.2.1').then(() => finished.push(`a${i}`)));
    const b = check('192.0.2.2').then(() => finished.push('b'));
    await b;
    expect(finished.filter((f) => f.startsWith('a')).length).toBeLessThan(5);
    await Promise.all(a);
    expect(finished).toHaveLength(21);
  });
});
