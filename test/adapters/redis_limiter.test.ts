import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisLimiterStore } from '../../src/adapters/redis/index.js';
import { ManualClock, isGatehouseError } from '../../src/core/index.js';
import { MemoryLimiterStore } from '../../src/ratelimit/index.js';
import { limiterStoreContract } from '../ratelimit/limiter_store.contract.js';

const url = process.env.REDIS_URL;
if (!url) throw new Error('REDIS_URL must be set (e.g. redis://127.0.0.1:6379): the Redis limiter tests never skip');
const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
const T0 = Date.parse('2026-01-01T00:00:00Z');

/** A fresh `test:<random>:` prefix per test, and the deletion of its keys afterwards (never FLUSHALL). */
function prefix(): { keyPrefix: string; cleanup: () => Promise<void> } {
  const keyPrefix = `test:${randomBytes(8).toString('hex')}:`;
  return { keyPrefix, cleanup: () => deleteUnder(keyPrefix) };
}

async function deleteUnder(keyPrefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 500);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

afterAll(async () => {
  await redis.quit();
});

limiterStoreContract('RedisLimiterStore (server TIME)', async () => {
  const { keyPrefix, cleanup } = prefix();
  return { store: new RedisLimiterStore({ redis, keyPrefix }), cleanup };
});

limiterStoreContract('RedisLimiterStore (caller ManualClock)', async () => {
  const { keyPrefix, cleanup } = prefix();
  const clock = new ManualClock(T0);
  return { store: new RedisLimiterStore({ redis, keyPrefix, clock }), clock, cleanup };
});

describe('RedisLimiterStore', () => {
  it('batches concurrent decisions into script calls and keeps their order exact', async () => {
    const { keyPrefix, cleanup } = prefix();
    const clock = new ManualClock(T0);
    const store = new RedisLimiterStore({ redis, keyPrefix, clock, maxBatch: 16, maxInFlight: 2 });
    const calls: unknown[][] = [];
    const sent = (redis as unknown as { sendCommand: (c: { name: string; args: unknown[] }) => unknown }).sendCommand;
    const spy = function (this: unknown, command: { name: string; args: unknown[] }) {
      if (command.name === 'evalsha' || command.name === 'eval') calls.push(command.args);
      return sent.call(this, command);
    };
    (redis as unknown as { sendCommand: typeof spy }).sendCommand = spy;
    try {
      const limit = { rate: 1, period: 60_000, burst: 99 };
      // 250 decisions on one key made in one tick: 100 admitted, in call order, whatever the batch boundaries.
      const decisions = await Promise.all(Array.from({ length: 250 }, () => store.consume('k', limit)));
      expect(decisions.slice(0, 100).every((d) => d.allowed)).toBe(true);
      expect(decisions.slice(100).some((d) => d.allowed)).toBe(false);
      expect(decisions.map((d) => d.remaining).slice(0, 3)).toEqual([99, 98, 97]);
      // 250 decisions in batches of at most 16: at least 16 script calls, far fewer than 250.
      expect(calls.length).toBeGreaterThanOrEqual(16);
      expect(calls.length).toBeLessThan(250);
      // A bad request in consumeMany rejects the whole call before anything is counted.
      await expect(
        store.consumeMany([
          { key: 'other', limit },
          { key: 'other', limit: { rate: 0, period: 1000, burst: 0 } },
        ]),
      ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
      expect((await store.consume('other', limit)).remaining).toBe(99);
    } finally {
      (redis as unknown as { sendCommand: typeof sent }).sendCommand = sent;
      await cleanup();
    }
  });

  it('stores one integer TAT per key under the prefix, expiring 1–2 s after the TAT passes', async () => {
    const { keyPrefix, cleanup } = prefix();
    const store = new RedisLimiterStore({ redis, keyPrefix });
    try {
      await store.consume('ip:203.0.113.7', { rate: 1, period: 60_000, burst: 2 }, 2);
      const keys = await redis.keys(`${keyPrefix}*`);
      expect(keys).toEqual([`${keyPrefix}ip:203.0.113.7`]);
      const value = await redis.get(`${keyPrefix}ip:203.0.113.7`);
      expect(value).toMatch(/^\d{16}$/); // integer microseconds since the epoch
      const pttl = await redis.pttl(`${keyPrefix}ip:203.0.113.7`);
      const [seconds, micros] = await redis.time();
      const serverUs = Number(seconds) * 1e6 + Number(micros);
      const aheadUs = Number(value) - serverUs;
      expect(aheadUs).toBeGreaterThan(110_000_000);
      expect(aheadUs).toBeLessThanOrEqual(120_000_000);
      // The expiry is the end of the second after the TAT's: at least 1 s, at most 2 s past the TAT.
      const expiresUs = serverUs + pttl * 1000;
      expect(expiresUs).toBeGreaterThanOrEqual(Number(value) + 1_000_000 - 50_000);
      expect(expiresUs).toBeLessThanOrEqual(Number(value) + 2_000_000 + 50_000);
      await store.consume('peek-only', { rate: 1, period: 60_000, burst: 2 }, 0);
      expect(await redis.exists(`${keyPrefix}peek-only`)).toBe(0);
    } finally {
      await cleanup();
    }
  });

  it('agrees with the memory store decision for decision on the same clock', async () => {
    const { keyPrefix, cleanup } = prefix();
    const clock = new ManualClock(T0);
    const shared = new RedisLimiterStore({ redis, keyPrefix, clock });
    const local = new MemoryLimiterStore({ clock, maxKeys: 100 });
    const limit = { rate: 7, period: 1000, burst: 3 };
    try {
      for (let i = 0; i < 60; i += 1) {
        const key = `k${i % 3}`;
        const cost = i % 5;
        expect(await shared.consume(key, limit, cost)).toEqual(local.consumeSync(key, limit, cost));
        clock.advance((i * 37) % 211);
      }
    } finally {
      await cleanup();
    }
  });

  it('decides a batch mixing limits, costs and repeated keys exactly as the memory store decides them in turn', async () => {
    const { keyPrefix, cleanup } = prefix();
    const clock = new ManualClock(T0);
    const shared = new RedisLimiterStore({ redis, keyPrefix, clock });
    const local = new MemoryLimiterStore({ clock, maxKeys: 100 });
    const limits = [
      { rate: 7, period: 1000, burst: 3 },
      { rate: 2, period: 1000, burst: 0 },
      { rate: 100, period: 60_000, burst: 10 },
    ];
    // Costs 0 (a peek), 1, 2 and 6 (above burst + 1 of the first two limits: never admitted, retry = ∞).
    const plan = Array.from({ length: 45 }, (_, i) => ({
      key: `k${i % 4}`,
      limit: limits[i % 3] as (typeof limits)[number],
      cost: [1, 0, 2, 1, 6][i % 5] as number,
    }));
    try {
      for (let round = 0; round < 3; round += 1) {
        // One tick: one script call holding three limits and several decisions per key.
        const batch = await Promise.all(plan.map((p) => shared.consume(p.key, p.limit, p.cost)));
        const expected = plan.map((p) => local.consumeSync(p.key, p.limit, p.cost));
        expect(batch).toEqual(expected);
        expect(batch.some((d) => d.allowed)).toBe(true);
        expect(batch.some((d) => !d.allowed && d.retryAfterMs === Number.POSITIVE_INFINITY)).toBe(true);
        expect(batch.some((d) => !d.allowed && Number.isFinite(d.retryAfterMs))).toBe(true);
        // What each key stored (its last TAT) carries into the next round.
        clock.advance(150 + round * 400);
      }
    } finally {
      await cleanup();
    }
  });

  it('agrees with the memory store on random batches: distinct keys or repeats, one limit or several, split or not', async () => {
    const { keyPrefix, cleanup } = prefix();
    const clock = new ManualClock(T0 + 250);
    const shared = new RedisLimiterStore({ redis, keyPrefix, clock });
    const local = new MemoryLimiterStore({ clock, maxKeys: 10_000 });
    const limits = [
      { rate: 5, period: 1000, burst: 2 },
      { rate: 1, period: 2000, burst: 0 },
      { rate: 50, period: 1000, burst: 20 },
    ];
    // A fixed-seed generator (xorshift32): the same batches on every run.
    let seed = 0x9e3779b9;
    const next = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    try {
      for (let round = 0; round < 40; round += 1) {
        const size = [1, 5, 30, 64, 100][next(5)] as number; // 100: two script calls in one tick
        const distinct = next(2) === 0;
        const oneLimit = next(2) === 0;
        const plan = Array.from({ length: size }, (_, i) => ({
          key: distinct ? `r${round}-${i}` : `k${next(8)}`,
          limit: limits[oneLimit ? 0 : next(3)] as (typeof limits)[number],
          cost: [1, 1, 1, 0, 2, 3][next(6)] as number,
        }));
        const batch = await Promise.all(plan.map((p) => shared.consume(p.key, p.limit, p.cost)));
        expect(batch, `round ${round}`).toEqual(plan.map((p) => local.consumeSync(p.key, p.limit, p.cost)));
        clock.advance(next(700));
      }
    } finally {
      await cleanup();
    }
  });

  it('writes a key decided several times in one batch once, with the TAT and expiry of its last decision', async () => {
    const { keyPrefix, cleanup } = prefix();
    const store = new RedisLimiterStore({ redis, keyPrefix });
    const limit = { rate: 1, period: 10_000, burst: 9 };
    try {
      // Server clock, one tick: a peek first (nothing to write yet), then five admissions of 10 s each.
      const decisions = await Promise.all([
        store.consume('hot', limit, 0),
        ...Array.from({ length: 5 }, () => store.consume('hot', limit)),
      ]);
      expect(decisions.map((d) => d.remaining)).toEqual([10, 9, 8, 7, 6, 5]);
      const [seconds, micros] = await redis.time();
      const serverUs = Number(seconds) * 1e6 + Number(micros);
      const ahead = Number(await redis.get(`${keyPrefix}hot`)) - serverUs;
      expect(ahead).toBeGreaterThan(49_000_000);
      expect(ahead).toBeLessThanOrEqual(50_000_000);
      const pttl = await redis.pttl(`${keyPrefix}hot`);
      expect(pttl).toBeGreaterThan(50_000 - 1_000);
      expect(pttl).toBeLessThanOrEqual(52_000);
      expect(pttl * 1000).toBeGreaterThanOrEqual(ahead + 1_000_000 - 50_000);
    } finally {
      await cleanup();
    }
  });

  // A batch of distinct keys writes each as it decides it; a batch naming a key twice writes it once, after deciding.
  it.each([
    ['alone in its batch', 1],
    ['named twice in its batch', 2],
  ])(
    'keeps a key’s expiry while its TAT stays in the same second, and sets a new one when it moves on (%s)',
    async (_, times) => {
      const { keyPrefix, cleanup } = prefix();
      // Caller clock (60 s slack), 100 ms into a second; 10 ms per request, far from the limit.
      const clock = new ManualClock(T0 + 100);
      const store = new RedisLimiterStore({ redis, keyPrefix, clock });
      const limit = { rate: 100, period: 1000, burst: 50 };
      const key = `${keyPrefix}k`;
      const decide = () => store.consumeMany(Array.from({ length: times }, () => ({ key: 'k', limit })));
      try {
        await decide();
        // TAT T0 + 100 ms + 10 ms per request: expires at the end of the next second (T0 + 2 s) plus the slack,
        // counted from T0 + 100 ms.
        const first = await redis.pttl(key);
        expect(first).toBeGreaterThan(61_900 - 1_000);
        expect(first).toBeLessThanOrEqual(61_900);
        // 500 ms later on the caller's clock, the TAT is still in the same second: the expiry stays as it was. A new
        // expiry counted from the new now would be 500 ms shorter.
        clock.advance(500);
        await decide();
        const kept = await redis.pttl(key);
        expect(kept).toBeGreaterThan(first - 400);
        expect(kept).toBeLessThanOrEqual(first);
        // Into the next second: a new expiry, the end of the second after (T0 + 3 s) plus the slack.
        clock.advance(450);
        await decide();
        const renewed = await redis.pttl(key);
        expect(renewed).toBeGreaterThan(61_950 - 1_000);
        expect(renewed).toBeLessThanOrEqual(61_950);
        expect(Number(await redis.get(key))).toBe((T0 + 1_050 + 10 * times) * 1000);
      } finally {
        await cleanup();
      }
    },
  );

  it('fails with ERR_STORE_UNAVAILABLE after close, and on a dead connection', async () => {
    const { keyPrefix } = prefix();
    const store = new RedisLimiterStore({ redis, keyPrefix });
    await store.close();
    const closed = await store.consume('k', { rate: 1, period: 1000, burst: 0 }).catch((e: unknown) => e);
    expect(isGatehouseError(closed, 'ERR_STORE_UNAVAILABLE')).toBe(true);

    const dead = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on('error', () => {}); // the refused connection is the point of this test
    const orphan = new RedisLimiterStore({ redis: dead, keyPrefix });
    const err = await orphan.consume('k', { rate: 1, period: 1000, burst: 0 }).catch((e: unknown) => e);
    expect(isGatehouseError(err, 'ERR_STORE_UNAVAILABLE')).toBe(true);
    const many = await orphan
      .consumeMany([{ key: 'k', limit: { rate: 1, period: 1000, burst: 0 } }])
      .catch((e: unknown) => e);
    expect(isGatehouseError(many, 'ERR_STORE_UNAVAILABLE')).toBe(true);
    dead.disconnect();
  });
});
