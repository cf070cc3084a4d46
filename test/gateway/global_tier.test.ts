import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, MemoryLogger, randomId } from '../../src/core/index.js';
import { RedisLimiterStore } from '../../src/adapters/index.js';
import { WatchedLimiterStore } from '../support/watched_limiter_store.js';
import {
  GatewayLimiter,
  GatewayMetrics,
  OverLimitCache,
  RedisGuard,
  Throttle,
  compileLimits,
} from '../../src/gateway/index.js';
import { MemoryLimiterStore } from '../../src/ratelimit/index.js';

const REDIS_URL = process.env['REDIS_URL'];
if (!REDIS_URL) throw new Error('REDIS_URL must be set for the gateway global-tier tests');

const limit = (failure: 'open' | 'closed', extra: { shadow?: boolean } = {}) =>
  compileLimits([
    {
      name: 'global',
      key: ['ip'],
      rate: 10,
      per: 1000,
      burst: 4,
      tier: 'global',
      shadow: extra.shadow ?? false,
      failure,
      throttle: undefined,
    },
  ]);
const subject = { route: 'r', clientIp: '192.0.2.1', principal: undefined };

describe('global tier on Redis', () => {
  let redis: Redis;
  const prefixes: string[] = [];
  beforeAll(() => {
    redis = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
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

  function setup() {
    const prefix = `gh-test:gw:${randomId(6)}:`;
    prefixes.push(prefix);
    const clock = new ManualClock(1_700_000_000_000);
    const store = new WatchedLimiterStore(new RedisLimiterStore({ redis, keyPrefix: prefix, clock }));
    const metrics = new GatewayMetrics();
    const logger = new MemoryLogger();
    const limiter = new GatewayLimiter({
      local: new MemoryLimiterStore({ clock, maxKeys: 1000 }),
      global: new RedisGuard({ store, clock, logger, metrics, timeoutMs: 2000, retryMs: 1000 }),
      overLimit: new OverLimitCache(1000),
      throttle: new Throttle(clock),
      clock,
      metrics,
    });
    return { prefix, clock, store, metrics, logger, limiter };
  }

  it('decides in Redis under its own key prefix: burst + 1 admitted, then 429', async () => {
    const { prefix, limiter } = setup();
    const outcomes = [];
    for (let i = 0; i < 7; i += 1) outcomes.push((await limiter.check('r', limit('open'), subject)).outcome);
    expect(outcomes).toEqual(['admit', 'admit', 'admit', 'admit', 'admit', 'limited', 'limited']);
    expect(await redis.exists(`${prefix}r/global@10:1000:4/ip=192.0.2.1`)).toBe(1); // name@rate:per:burst
  });

  it('answers keys known to be over their limit from the local cache, without a Redis call', async () => {
    const { store, limiter, clock, metrics } = setup();
    for (let i = 0; i < 6; i += 1) await limiter.check('r', limit('open'), subject);
    const calls = store.calls;
    for (let i = 0; i < 50; i += 1) expect((await limiter.check('r', limit('open'), subject)).outcome).toBe('limited');
    expect(store.calls).toBe(calls);
    expect(await metrics.text()).toContain('gatehouse_gateway_over_limit_cache_hits_total 50');
    clock.advance(100); // the retry time has come: Redis is asked again
    expect((await limiter.check('r', limit('open'), subject)).outcome).toBe('admit');
    expect(store.calls).toBe(calls + 1);
  });

  it('fails open when Redis is down, with a metric and one log line, and recovers by itself', async () => {
    const { store, limiter, clock, metrics, logger } = setup();
    store.down = true;
    for (let i = 0; i < 20; i += 1) expect((await limiter.check('r', limit('open'), subject)).outcome).toBe('admit');
    expect(store.calls).toBe(1); // marked down: no pile-up of calls while it is out
    const text = await metrics.text();
    expect(text).toContain('gatehouse_gateway_redis_errors_total 20');
    expect(text).toContain('gatehouse_gateway_limiter_fail_open_total{route="r",limit="global"} 20');
    expect(logger.lines.filter((l) => l['event'] === 'gateway_redis_down')).toHaveLength(1);
    store.down = false;
    clock.advance(1000);
    for (let i = 0; i < 5; i += 1) expect((await limiter.check('r', limit('open'), subject)).outcome).toBe('admit');
    expect((await limiter.check('r', limit('open'), subject)).outcome).toBe('limited');
    expect(logger.lines.filter((l) => l['event'] === 'gateway_redis_recovered')).toHaveLength(1);
  });

  it('fails closed (503 verdict) on a limit that says so', async () => {
    const { store, limiter } = setup();
    store.down = true;
    const v = await limiter.check('r', limit('closed'), subject);
    expect(v).toMatchObject({ outcome: 'unavailable', violated: ['global'] });
  });

  it('shadow mode on the global tier counts without enforcing', async () => {
    const { limiter, metrics } = setup();
    for (let i = 0; i < 8; i += 1)
      expect((await limiter.check('r', limit('open', { shadow: true }), subject)).outcome).toBe('admit');
    expect(await metrics.text()).toContain('gatehouse_gateway_shadow_limited_total{route="r",limit="global"} 3');
  });

  it('puts every global limit of a request in one round trip', async () => {
    const { store, limiter } = setup();
    const two = compileLimits([
      {
        name: 'a',
        key: ['ip'],
        rate: 10,
        per: 1000,
        burst: 0,
        tier: 'global',
        shadow: false,
        failure: 'open',
        throttle: undefined,
      },
      {
        name: 'b',
        key: ['route'],
        rate: 100,
        per: 3_600_000,
        burst: 0,
        tier: 'global',
        shadow: false,
        failure: 'open',
        throttle: undefined,
      },
    ]);
    await limiter.check('r', two, subject);
    expect(store.calls).toBe(1);
  });

  it('caches a refusal from when Redis was asked, so a late answer wastes no token', async () => {
    const { store, limiter, clock } = setup();
    for (let i = 0; i < 5; i += 1) expect((await limiter.check('r', limit('open'), subject)).outcome).toBe('admit');
    store.afterAnswer = () => clock.advance(50); // the answer arrives 50 ms after the decision
    expect((await limiter.check('r', limit('open'), subject)).outcome).toBe('limited'); // retry after 100 ms
    store.afterAnswer = undefined;
    clock.advance(60); // 110 ms after the decision: Redis has a token again, and is asked
    const calls = store.calls;
    expect((await limiter.check('r', limit('open'), subject)).outcome).toBe('admit');
    expect(store.calls).toBe(calls + 1);
  });
});
