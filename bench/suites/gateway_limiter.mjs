// Issue 7 benchmark, limiter stores: gatehouse's in-process GCRA store (MemoryLimiterStore.consumeSync and the async
// consume) against rate-limiter-flexible 11.4.0's RateLimiterMemory.consume awaited, and the Redis store
// (RedisLimiterStore.consume, consumeMany) against RateLimiterRedis.consume, 100 decisions in flight, to the local
// Redis. Same key distribution on both sides (10 000 keys, round robin), every key under its limit. Redis keys live
// under a prefix of their own and are deleted after the run (never FLUSHALL).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { RedisLimiterStore } from '../../dist/adapters/index.js';
import { systemClock } from '../../dist/core/index.js';
import { MemoryLimiterStore } from '../../dist/ratelimit/index.js';
import { compare } from '../lib/measure.mjs';

const KEYS = Array.from({ length: 10_000 }, (_, i) => `client:${i}`);
const IN_FLIGHT = 100;
// Far above what a round can spend on one key: every decision admits.
const LIMIT = { rate: 1_000_000_000, period: 1000, burst: 1_000_000 };
const POINTS = 1_000_000_000;

/** Round-robin key cursor, one per implementation so that each sees the same sequence. */
function cursor() {
  let i = 0;
  return () => KEYS[(i = (i + 1) % KEYS.length)];
}

async function memoryRows() {
  const store = new MemoryLimiterStore({ clock: systemClock, maxKeys: 100_000 });
  const rlf = new RateLimiterMemory({ points: POINTS, duration: 1 });
  const [a, b, c] = [cursor(), cursor(), cursor()];
  const names = {
    sync: 'gatehouse MemoryLimiterStore.consumeSync',
    async: 'gatehouse MemoryLimiterStore.consume (awaited)',
    rlf: 'rate-limiter-flexible 11.4.0 RateLimiterMemory.consume (awaited)',
  };
  const rows = await compare({
    name: names.sync,
    subject: () => store.consumeSync(a(), LIMIT),
    anchors: { [names.async]: () => store.consume(b(), LIMIT), [names.rlf]: () => rlf.consume(c(), 1) },
  });
  const by = Object.fromEntries(rows.map((r) => [r.name, r]));
  const asyncRatio = by[names.async].opsPerSec / by[names.rlf].opsPerSec;
  return {
    bench: 'In-process limiter vs rate-limiter-flexible RateLimiterMemory, 10 000 keys',
    target: '≥ 3× RateLimiterMemory (consumeSync, the call the gateway and the identity guards make)',
    results: [by[names.sync], by[names.rlf], by[names.async]],
    checks: [{ label: 'consumeSync', value: by[names.rlf].ratio, need: 3 }],
    note:
      'Setup: in process, alternating rounds (7 × 700 ms), medians; keys client:0 … client:9999 round robin; ' +
      'limits far above the offered rate (no rejection on either side). The "gatehouse ÷ this" column is relative ' +
      `to consumeSync. The promise-returning consume (informational; the LimiterStore port's async form, used ` +
      `where a store may be remote) is ${asyncRatio.toFixed(2)}× RateLimiterMemory.`,
  };
}

async function redisRows() {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `gh-bench-limiter-${randomBytes(6).toString('hex')}`;
  const ours = new Redis(url, { lazyConnect: false });
  const theirs = new Redis(url, { lazyConnect: false });
  try {
    const store = new RedisLimiterStore({ redis: ours, keyPrefix: `${prefix}:gh:` });
    const rlf = new RateLimiterRedis({ storeClient: theirs, keyPrefix: `${prefix}:rlf`, points: POINTS, duration: 60 });
    const [a, b, c] = [cursor(), cursor(), cursor()];
    const batch = (one) => () => Promise.all(Array.from({ length: IN_FLIGHT }, one));
    const names = {
      consume: `gatehouse RedisLimiterStore.consume, ${IN_FLIGHT} in flight`,
      many: `gatehouse RedisLimiterStore.consumeMany (2 keys per call), ${IN_FLIGHT / 2} calls in flight`,
      rlf: `rate-limiter-flexible 11.4.0 RateLimiterRedis.consume, ${IN_FLIGHT} in flight`,
    };
    const rows = await compare({
      name: names.consume,
      subject: batch(() => store.consume(a(), LIMIT)),
      anchors: {
        [names.many]: () =>
          Promise.all(
            Array.from({ length: IN_FLIGHT / 2 }, () =>
              store.consumeMany([
                { key: b(), limit: LIMIT },
                { key: b(), limit: LIMIT },
              ]),
            ),
          ),
        [names.rlf]: batch(() => rlf.consume(c(), 1)),
      },
      rounds: 5,
      roundMs: 700,
    });
    // Redis's own CPU per decision (INFO cpu, main thread and children, before and after 20 000 decisions of each):
    // when Redis is the bottleneck, the ratio of these is the most either side can gain.
    const redisCpu = async (one) => {
      const before = await redisCpuSeconds(ours);
      for (let n = 0; n < 20_000; n += IN_FLIGHT) await Promise.all(Array.from({ length: IN_FLIGHT }, one));
      return ((await redisCpuSeconds(ours)) - before) / 20_000;
    };
    const cpuOurs = await redisCpu(() => store.consume(a(), LIMIT));
    const cpuTheirs = await redisCpu(() => rlf.consume(c(), 1));
    // compare counts batches; every batch is IN_FLIGHT decisions.
    const scaled = rows.map((r) => ({ ...r, opsPerSec: r.opsPerSec * IN_FLIGHT }));
    const by = Object.fromEntries(scaled.map((r) => [r.name, r]));
    const manyRatio = by[names.many].opsPerSec / by[names.rlf].opsPerSec;
    return {
      bench: `Redis limiter vs rate-limiter-flexible RateLimiterRedis, ${IN_FLIGHT} decisions in flight, 10 000 keys`,
      target: '≥ 2× RateLimiterRedis',
      results: [by[names.consume], by[names.rlf], by[names.many]],
      checks: [
        { label: 'consume', value: by[names.rlf].ratio, need: 2 },
        { label: 'consumeMany', value: manyRatio, need: 2 },
      ],
      note:
        'Setup: in process, ioredis 5 (one client per implementation, default options) to the local Redis; a ' +
        `sample is a batch of ${IN_FLIGHT} decisions awaited together, 5 alternating rounds × 700 ms, medians, ` +
        'shown as decisions/s; keys round robin over 10 000, every one under its limit; gatehouse decides on the ' +
        'Redis server clock (production setting). Keys deleted after the run. Redis CPU per decision (INFO cpu ' +
        `over 20 000 decisions each, same run): gatehouse ${(cpuOurs * 1e6).toFixed(2)} µs, RateLimiterRedis ` +
        `${(cpuTheirs * 1e6).toFixed(2)} µs (${(cpuTheirs / cpuOurs).toFixed(2)}×): the ratio a Redis-bound run ` +
        "cannot pass. Most of gatehouse's is the MGET and the one SET per admitted key (KEEPTTL while its TAT stays " +
        'in the same second).',
    };
  } finally {
    await deleteKeys(ours, `${prefix}:*`);
    ours.disconnect();
    theirs.disconnect();
  }
}

/** The Redis server's CPU time so far (seconds, user + system, main thread and children). */
async function redisCpuSeconds(redis) {
  const info = await redis.info('cpu');
  return ['used_cpu_sys', 'used_cpu_user', 'used_cpu_sys_children', 'used_cpu_user_children']
    .map((name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0))
    .reduce((x, y) => x + y, 0);
}

async function deleteKeys(redis, pattern) {
  let cursorId = '0';
  do {
    const [next, keys] = await redis.scan(cursorId, 'MATCH', pattern, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursorId = next;
  } while (cursorId !== '0');
}

export async function run() {
  return [await memoryRows(), await redisRows()];
}
