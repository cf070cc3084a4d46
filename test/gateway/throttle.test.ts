import { EventEmitter } from 'node:events';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/index.js';
import { GatewayLimiter, GatewayMetrics, OverLimitCache, Throttle, compileLimits } from '../../src/gateway/index.js';
import { MemoryLimiterStore } from '../../src/ratelimit/index.js';
import { call, startBackend, startGateway } from './support.js';

function throttledLimiter(maxWait: number, maxQueue: number, rate = 50, per = 1000) {
  const metrics = new GatewayMetrics();
  const throttle = new Throttle(systemClock);
  const limiter = new GatewayLimiter({
    local: new MemoryLimiterStore({ clock: systemClock, maxKeys: 1000 }),
    global: undefined,
    overLimit: new OverLimitCache(10),
    throttle,
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
  const check = (ip: string, client?: EventEmitter & { destroyed: boolean }) =>
    Promise.resolve(limiter.check('r', limits, { route: 'r', clientIp: ip, principal: undefined }, client));
  const key = (ip: string) => limits.limits[0]?.keys.of('r', { route: 'r', clientIp: ip, principal: undefined });
  return { check, metrics, throttle, key };
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

  it('a client that leaves while it waits is taken out of its queue at once', async () => {
    // One request every 10 s, up to 60 s of wait: the first is admitted, the next two queue (about 10 s and 20 s).
    const { check, metrics, throttle, key } = throttledLimiter(60_000, 10, 1, 10_000);
    const client = () => Object.assign(new EventEmitter(), { destroyed: false });
    expect((await check('192.0.2.7')).outcome).toBe('admit');
    const leaving = client();
    const left = check('192.0.2.7', leaving);
    const staying = client();
    void check('192.0.2.7', staying); // never awaited: its turn comes after the test
    const k = key('192.0.2.7') as string;
    expect(throttle.queued(k)).toBe(2);
    leaving.destroyed = true;
    leaving.emit('close');
    expect(await left).toMatchObject({ outcome: 'gone', violated: [] });
    expect(throttle.queued(k)).toBe(1);
    expect(leaving.listenerCount('close')).toBe(0);
    expect(await metrics.text()).toContain(
      'gatehouse_gateway_throttled_total{route="r",limit="t",outcome="abandoned"} 1',
    );
    staying.emit('close');
    expect(throttle.busy(k)).toBe(false); // the last waiter left: the queue and its timer are gone
  });

  it('a client already gone is not queued, and one that stays stops being watched once admitted', async () => {
    const { check, throttle, key } = throttledLimiter(1000, 10);
    const gone = Object.assign(new EventEmitter(), { destroyed: true });
    expect((await check('192.0.2.3')).outcome).toBe('admit');
    expect((await check('192.0.2.3', gone)).outcome).toBe('gone');
    expect(throttle.queued(key('192.0.2.3') as string)).toBe(0);
    const stays = Object.assign(new EventEmitter(), { destroyed: false });
    const waited = check('192.0.2.3', stays);
    expect(stays.listenerCount('close')).toBe(1);
    expect((await waited).outcome).toBe('admit');
    expect(stays.listenerCount('close')).toBe(0);
  });
});

describe('throttling on the local tier over HTTP', () => {
  it('a client that disconnects while its request waits is never forwarded upstream, and is logged as 499', async () => {
    const backend = await startBackend();
    const metrics = new GatewayMetrics();
    const gw = await startGateway(
      {
        upstreams: [{ name: 'u', hosts: [backend.url] }],
        routes: [
          {
            name: 'r',
            pathPrefix: '/',
            upstream: 'u',
            limits: [{ name: 'local', key: ['ip'], rate: 1, per: '10s', throttle: { maxWait: '20s' } }],
          },
        ],
      },
      { metrics },
    );
    try {
      expect((await call(gw, '/first')).status).toBe(200);
      const leaving = new AbortController();
      const waiting = request(`${gw.url}/second`, { dispatcher: gw.agent, signal: leaving.signal }).catch(
        (err: unknown) => err,
      );
      const waitingNow = async (n: number) => {
        const line = `gatehouse_gateway_throttle_waiting ${n}`;
        while (!(await metrics.text()).includes(line)) await new Promise((resolve) => setTimeout(resolve, 5));
      };
      await waitingNow(1);
      leaving.abort();
      expect(await waiting).toBeInstanceOf(Error);
      const abandoned = 'gatehouse_gateway_throttled_total{route="r",limit="local",outcome="abandoned"} 1';
      while (!(await metrics.text()).includes(abandoned)) await new Promise((resolve) => setTimeout(resolve, 5));
      await waitingNow(0);
      expect(backend.hits).toBe(1);
      expect(await metrics.text()).toContain('gatehouse_gateway_requests_total{route="r",status="499"} 1');
    } finally {
      await gw.close();
      await backend.close();
    }
  });
});
