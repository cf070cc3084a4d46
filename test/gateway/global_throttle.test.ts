// Throttling on the global (Redis) tier: the script reserves each delayed request its slot, so gateways sharing one
// Redis prefix delay rather than refuse and still admit exactly the configured rate. Assertions are on the delays the
// script hands out and on counts, never on wall-clock time.
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisLimiterStore } from '../../src/adapters/index.js';
import { WatchedLimiterStore } from '../support/watched_limiter_store.js';
import { ManualClock, MemoryLogger, randomId, systemClock } from '../../src/core/index.js';
import {
  GatewayLimiter,
  GatewayMetrics,
  OverLimitCache,
  RedisGuard,
  Reservations,
  type SleepTimer,
  Throttle,
  compileLimits,
} from '../../src/gateway/index.js';
import { MemoryLimiterStore } from '../../src/ratelimit/index.js';
import { call, startBackend, startGateway, testCertificate } from './support.js';

const REDIS_URL = process.env['REDIS_URL'];
if (!REDIS_URL) throw new Error('REDIS_URL must be set for the gateway global-throttle tests');

function throttledLimit(
  o: { rate: number; per: number; burst: number; maxWait: number; maxQueue?: number },
  extra: { shadow?: boolean; failure?: 'open' | 'closed' } = {},
) {
  return compileLimits([
    {
      name: 'shared',
      key: ['ip'],
      rate: o.rate,
      per: o.per,
      burst: o.burst,
      tier: 'global',
      shadow: extra.shadow ?? false,
      failure: extra.failure ?? 'open',
      throttle: { maxWait: o.maxWait, maxQueue: o.maxQueue ?? 100 },
    },
  ]);
}

const subject = { route: 'r', clientIp: '192.0.2.1', principal: undefined };

describe('throttling on the global tier', () => {
  const clients: Redis[] = [];
  const prefixes: string[] = [];
  let admin: Redis;
  beforeAll(() => {
    admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterEach(async () => {
    for (const prefix of prefixes.splice(0)) {
      const keys = await admin.keys(`${prefix}*`);
      if (keys.length > 0) await admin.del(...keys);
    }
  });
  afterAll(async () => {
    await Promise.all([admin, ...clients].map((c) => c.quit()));
  });

  /** A fresh key prefix, shared by the gateways `instance` builds from it (one Redis client each, as processes). */
  function cluster() {
    const prefix = `gh-test:gthrottle:${randomId(6)}:`;
    prefixes.push(prefix);
    const clock = new ManualClock(1_700_000_000_000);
    const instance = (timer?: SleepTimer) => {
      const redis = new Redis(REDIS_URL as string, { maxRetriesPerRequest: 1 });
      clients.push(redis);
      const store = new WatchedLimiterStore(new RedisLimiterStore({ redis, keyPrefix: prefix, clock }));
      const metrics = new GatewayMetrics();
      const reservations = new Reservations(timer);
      const limiter = new GatewayLimiter({
        local: new MemoryLimiterStore({ clock, maxKeys: 1000 }),
        global: new RedisGuard({ store, clock, logger: new MemoryLogger(), metrics, timeoutMs: 2000, retryMs: 1000 }),
        overLimit: new OverLimitCache(1000),
        throttle: new Throttle(clock),
        reservations,
        clock,
        metrics,
      });
      const check = (limits: ReturnType<typeof throttledLimit>, client?: EventEmitter & { destroyed: boolean }) =>
        Promise.resolve(limiter.check('r', limits, subject, client));
      return { store, metrics, reservations, limiter, check };
    };
    return { prefix, clock, instance };
  }

  it('two gateways on one Redis: a burst is admitted at the configured spacing within maxWait, the rest refused', async () => {
    const { instance } = cluster();
    const a = instance();
    const b = instance();
    // 50 per second (one every 20 ms), burst 2, up to 200 ms of wait: 3 at once, 10 reserved, 27 refused.
    const limits = throttledLimit({ rate: 50, per: 1000, burst: 2, maxWait: 200 });
    const verdicts = await Promise.all(
      Array.from({ length: 40 }, (_, i) => ((i % 2 === 0 ? a : b) as typeof a).check(limits)),
    );
    expect(verdicts.filter((v) => v.outcome === 'admit')).toHaveLength(13);
    expect(verdicts.filter((v) => v.outcome === 'limited')).toHaveLength(27);
    // Each throttled request was asked with the limit's maxWait.
    expect([...a.store.asked, ...b.store.asked].every((r) => r.maxWait === 200)).toBe(true);
    const answered = [...a.store.answered, ...b.store.answered];
    expect(answered.filter((d) => d.allowed && d.delayMs === undefined)).toHaveLength(3);
    // Every slot within the wait budget handed out exactly once across both gateways, 20 ms apart.
    const delays = answered.flatMap((d) => (d.delayMs === undefined ? [] : [d.delayMs])).sort((x, y) => x - y);
    expect(delays).toEqual([20, 40, 60, 80, 100, 120, 140, 160, 180, 200]);
    // The refused are told the exact time until the next free slot (220 ms: after the 10 reserved), never less.
    for (const v of verdicts.filter((x) => x.outcome === 'limited')) expect(v.retryAfterMs).toBe(220);
    const text = (await a.metrics.text()) + (await b.metrics.text());
    const count = (outcome: string) =>
      [...text.matchAll(new RegExp(`throttled_total\\{route="r",limit="shared",outcome="${outcome}"\\} (\\d+)`, 'g'))]
        .map((m) => Number(m[1]))
        .reduce((x, y) => x + y, 0);
    expect(count('admitted')).toBe(10);
    expect(count('limited')).toBe(27);
    const key = limits.limits[0]?.keys.of('r', subject) as string;
    expect(a.reservations.holding(key) + b.reservations.holding(key)).toBe(0);
  });

  it('bounds the requests deciding or sleeping per key in each process by maxQueue; past it, asks without a wait', async () => {
    const { instance } = cluster();
    // A's sleeps wake only when the test says so: "still sleeping" must not depend on how busy the machine is.
    const held: Array<() => void> = [];
    const a = instance({ set: (wake) => held.push(wake), clear: () => {} });
    const b = instance();
    const limits = throttledLimit({ rate: 50, per: 1000, burst: 0, maxWait: 1000, maxQueue: 3 });
    const key = limits.limits[0]?.keys.of('r', subject) as string;
    // Six at once from A: three take a place and ask with the wait (one admitted at once, two reserved), three ask
    // without one and are refused.
    const first = Array.from({ length: 6 }, () => a.check(limits));
    expect(a.reservations.holding(key)).toBe(3);
    while (held.length < 2) await new Promise((resolve) => setImmediate(resolve));
    expect(a.reservations.holding(key)).toBe(2); // the two sleeping on their reservations
    // B has its own queue: its request is reserved behind A's two (slots 20 and 40 ms ahead), not refused.
    const fromB = b.check(limits);
    for (const wake of held) wake();
    const outcomes = (await Promise.all(first)).map((v) => v.outcome);
    expect(outcomes).toEqual(['admit', 'admit', 'admit', 'limited', 'limited', 'limited']);
    expect((await fromB).outcome).toBe('admit');
    expect(a.store.asked.map((r) => r.maxWait)).toEqual([1000, 1000, 1000, undefined, undefined, undefined]);
    expect(a.store.answered.map((d) => d.delayMs)).toEqual([undefined, 20, 40, undefined, undefined, undefined]);
    expect(b.store.answered[0]?.delayMs).toBe(60);
    expect(a.reservations.holding(key) + b.reservations.holding(key)).toBe(0);
  });

  it('caches a throttled refusal only until a reservation within maxWait is possible', async () => {
    const { clock, instance } = cluster();
    const a = instance();
    // One per 100 ms, no burst, up to 150 ms of wait.
    const limits = throttledLimit({ rate: 10, per: 1000, burst: 0, maxWait: 150 });
    expect((await a.check(limits)).outcome).toBe('admit');
    const [reserved, refused] = await Promise.all([a.check(limits), a.check(limits)]);
    expect(reserved?.outcome).toBe('admit');
    expect(refused).toMatchObject({ outcome: 'limited', retryAfterMs: 200 }); // its slot is 200 ms away
    const calls = a.store.calls;
    // Within 50 ms no wait of 150 ms reaches a slot: answered from the cache, with the same exact retry.
    expect(await a.check(limits)).toMatchObject({ outcome: 'limited', retryAfterMs: 200 });
    expect(a.store.calls).toBe(calls);
    clock.advance(50);
    // Now the slot at 200 ms is 150 ms away: Redis is asked again and reserves it.
    expect((await a.check(limits)).outcome).toBe('admit');
    expect(a.store.calls).toBe(calls + 1);
    expect(a.store.answered.at(-1)?.delayMs).toBe(150);
  });

  it('never delays a shadow limit', async () => {
    const { instance } = cluster();
    const a = instance();
    const limits = throttledLimit({ rate: 1, per: 60_000, burst: 0, maxWait: 60_000 }, { shadow: true });
    for (let i = 0; i < 3; i += 1) expect((await a.check(limits)).outcome).toBe('admit');
    expect(a.store.asked.every((r) => r.maxWait === undefined)).toBe(true);
    expect(a.store.answered.map((d) => d.allowed)).toEqual([true, false, false]);
    expect(await a.metrics.text()).toContain('gatehouse_gateway_shadow_limited_total{route="r",limit="shared"} 2');
  });

  it('fails open or closed as configured when Redis is unreachable, holding no place', async () => {
    const { instance } = cluster();
    const a = instance();
    const key = throttledLimit({ rate: 1, per: 60_000, burst: 0, maxWait: 100 }).limits[0]?.keys.of('r', subject);
    a.store.down = true;
    const open = throttledLimit({ rate: 1, per: 60_000, burst: 0, maxWait: 100 });
    for (let i = 0; i < 3; i += 1) expect((await a.check(open)).outcome).toBe('admit');
    expect(await a.metrics.text()).toContain('gatehouse_gateway_limiter_fail_open_total{route="r",limit="shared"} 3');
    const closed = throttledLimit({ rate: 1, per: 60_000, burst: 0, maxWait: 100 }, { failure: 'closed' });
    expect(await a.check(closed)).toMatchObject({ outcome: 'unavailable', violated: ['shared'] });
    expect(a.reservations.holding(key as string)).toBe(0);
  });

  it('a client that leaves while its request sleeps frees its place at once; its slot stays spent', async () => {
    const { instance } = cluster();
    const a = instance();
    const limits = throttledLimit({ rate: 1, per: 10_000, burst: 0, maxWait: 20_000 });
    const key = limits.limits[0]?.keys.of('r', subject) as string;
    expect((await a.check(limits)).outcome).toBe('admit');
    const client = Object.assign(new EventEmitter(), { destroyed: false });
    const sleeping = a.check(limits, client); // reserved 10 s ahead
    while (a.reservations.holding(key) === 0 || a.store.answered.length < 2) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(a.store.answered[1]?.delayMs).toBe(10_000);
    client.destroyed = true;
    client.emit('close');
    expect(await sleeping).toMatchObject({ outcome: 'gone' });
    expect(a.reservations.holding(key)).toBe(0);
    expect(client.listenerCount('close')).toBe(0);
    expect(await a.metrics.text()).toContain(
      'gatehouse_gateway_throttled_total{route="r",limit="shared",outcome="abandoned"} 1',
    );
    // The next request waits behind the abandoned slot (20 s), like nginx: reserved slots are not handed back.
    const next = Object.assign(new EventEmitter(), { destroyed: false });
    const later = a.check(limits, next);
    while (a.store.answered.length < 3) await new Promise((resolve) => setImmediate(resolve));
    expect(a.store.answered[2]?.delayMs).toBe(20_000);
    next.emit('close');
    expect(await later).toMatchObject({ outcome: 'gone' });
  });
});

describe('throttling on the global tier over HTTP', () => {
  const prefixes: string[] = [];
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterEach(async () => {
    for (const prefix of prefixes.splice(0)) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
  });
  afterAll(async () => {
    await redis.quit();
  });

  async function throttledGateway(limit: { rate: number; per: string; maxWait: string }) {
    const prefix = `gh-test:gthrottle-http:${randomId(6)}:`;
    prefixes.push(prefix);
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
            limits: [
              {
                name: 'shared',
                key: ['ip'],
                rate: limit.rate,
                per: limit.per,
                tier: 'global',
                throttle: { maxWait: limit.maxWait },
              },
            ],
          },
        ],
      },
      { globalStore: new RedisLimiterStore({ redis, keyPrefix: prefix }), clock: systemClock, metrics },
    );
    return { prefix, backend, gw, metrics };
  }

  it('delays the request within maxWait to the upstream and refuses the one past it with 429 and Retry-After', async () => {
    // One a second, up to 1.5 s of wait: of three at once, one goes at once, one about a second later (its slot), and
    // the third, whose slot is about 2 s away, is refused (the spacing leaves room for a loaded machine's jitter).
    const { backend, gw, metrics } = await throttledGateway({ rate: 1, per: '1s', maxWait: '1500ms' });
    try {
      const answers = await Promise.all([call(gw, '/a'), call(gw, '/b'), call(gw, '/c')]);
      expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 429]);
      const refused = answers.find((r) => r.status === 429);
      expect(refused?.headers['retry-after']).toBe('2');
      expect(refused?.body).toMatchObject({ code: 'ERR_RATE_LIMITED', violated_policies: ['shared'] });
      expect(backend.hits).toBe(2);
      expect(await metrics.text()).toContain(
        'gatehouse_gateway_throttled_total{route="r",limit="shared",outcome="admitted"} 1',
      );
    } finally {
      await gw.close();
      await backend.close();
    }
  });

  it('a client that disconnects while its request sleeps is never forwarded upstream', async () => {
    // One per 10 s, up to 20 s of wait: the second request sleeps about 10 s, and its client leaves meanwhile.
    const { prefix, backend, gw, metrics } = await throttledGateway({ rate: 1, per: '10s', maxWait: '20s' });
    const agent = new Agent({ connect: { ca: testCertificate().certPem, servername: 'localhost' } });
    try {
      expect((await call(gw, '/first')).status).toBe(200);
      const key = (await redis.keys(`${prefix}*`))[0] as string;
      const before = Number(await redis.get(key));
      const leaving = new AbortController();
      const sleeping = request(`${gw.url}/second`, { dispatcher: agent, signal: leaving.signal }).catch(
        (err: unknown) => err,
      );
      // The reservation is made when the TAT moves 10 s further; the request then sleeps.
      while (Number(await redis.get(key)) === before) await new Promise((resolve) => setTimeout(resolve, 5));
      leaving.abort();
      expect(await sleeping).toBeInstanceOf(Error);
      const abandoned = 'gatehouse_gateway_throttled_total{route="r",limit="shared",outcome="abandoned"} 1';
      while (!(await metrics.text()).includes(abandoned)) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(backend.hits).toBe(1);
      expect(await metrics.text()).toContain('gatehouse_gateway_requests_total{route="r",status="499"} 1');
    } finally {
      await agent.close();
      await gw.close();
      await backend.close();
    }
  });
});
