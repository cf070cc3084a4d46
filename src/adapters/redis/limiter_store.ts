import type { Redis } from 'ioredis';
import { GatehouseError, type Clock } from '../../core/index.js';
import {
  emissionIntervalUs,
  toMicros,
  type ConsumeRequest,
  type LimiterStore,
  type RateDecision,
  type RateLimit,
} from '../../ratelimit/index.js';
import { GCRA_LUA } from './gcra_script.js';

/** Options of {@link RedisLimiterStore}. */
export interface RedisLimiterStoreOptions {
  /** An ioredis 5 client. The store does not own it: `close()` leaves it connected, its creator quits it. */
  redis: Redis;
  /** Prepended to every key (config `redis.keyPrefix`, e.g. `gatehouse:rl:`). */
  keyPrefix: string;
  /**
   * Decide on this clock instead of the Redis server's TIME. Leave unset in production: with several gateways, the
   * one server clock is the only clock they all agree on. Set it in tests (ManualClock) or with a single caller.
   */
  clock?: Clock;
}

/** Extra lifetime given to keys when the caller's clock decides, in case it runs behind the server's. */
const CALLER_CLOCK_TTL_SLACK_MS = 60_000;
const COMMAND = 'gatehouseGcraV1';

type Reply = [number, number, number, number];
type Scripted = { [COMMAND](key: string, ...args: Array<string | number>): Promise<Reply> };

function toDecision(reply: Reply): RateDecision {
  const [allowed, remaining, retryUs, resetUs] = reply;
  return {
    allowed: allowed === 1,
    remaining,
    retryAfterMs: retryUs < 0 ? Number.POSITIVE_INFINITY : Math.ceil(retryUs / 1000),
    resetAfterMs: resetUs <= 0 ? 0 : Math.ceil(resetUs / 1000),
  };
}

function unavailable(err: unknown): GatehouseError {
  return new GatehouseError('ERR_STORE_UNAVAILABLE', {
    detail: `redis limiter: ${err instanceof Error ? err.message : String(err)}`,
    cause: err,
  });
}

/**
 * The shared limiter store: GCRA in one Lua script per decision (atomic per key), loaded once with `defineCommand`
 * (EVALSHA, falling back to EVAL after a server restart). Time is the Redis server's `TIME` unless a clock is given.
 * Each key holds one integer (its TAT in µs) and expires when that TAT passes. `consumeMany` sends one pipeline.
 *
 * Failures throw ERR_STORE_UNAVAILABLE; whether to fail open is the caller's policy.
 *
 * @example
 * const store = new RedisLimiterStore({ redis: new Redis(config.redis.url), keyPrefix: 'gatehouse:rl:' });
 * const d = await store.consume(`client:${clientId}`, { rate: 100, period: 60_000, burst: 20 });
 */
export class RedisLimiterStore implements LimiterStore {
  private readonly redis: Redis;
  private readonly keyPrefix: string;
  private readonly clock: Clock | undefined;
  private closed = false;

  constructor(options: RedisLimiterStoreOptions) {
    this.redis = options.redis;
    this.keyPrefix = options.keyPrefix;
    this.clock = options.clock;
    if (!(COMMAND in this.redis)) this.redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: GCRA_LUA });
  }

  async consume(key: string, limit: RateLimit, cost = 1): Promise<RateDecision> {
    const args = this.args(limit, cost);
    try {
      return toDecision(await (this.redis as unknown as Scripted)[COMMAND](this.keyPrefix + key, ...args));
    } catch (err) {
      throw unavailable(err);
    }
  }

  async consumeMany(requests: readonly ConsumeRequest[]): Promise<RateDecision[]> {
    if (requests.length === 0) return [];
    const pipeline = this.redis.pipeline() as unknown as Scripted & ReturnType<Redis['pipeline']>;
    for (const r of requests) void pipeline[COMMAND](this.keyPrefix + r.key, ...this.args(r.limit, r.cost ?? 1));
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await pipeline.exec();
    } catch (err) {
      throw unavailable(err);
    }
    if (!results) throw unavailable(new Error('pipeline discarded'));
    return results.map(([err, reply]) => {
      if (err) throw unavailable(err);
      return toDecision(reply as Reply);
    });
  }

  async reset(key: string): Promise<void> {
    this.ensureOpen();
    try {
      await this.redis.del(this.keyPrefix + key);
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Marks the store closed; the client stays connected (its creator owns it). */
  async close(): Promise<void> {
    this.closed = true;
  }

  private ensureOpen(): void {
    if (this.closed) throw unavailable(new Error('the store is closed'));
  }

  /** Validates and encodes ARGV (throws ERR_CONFIG_INVALID before any round trip). */
  private args(limit: RateLimit, cost: number): Array<string | number> {
    this.ensureOpen();
    const interval = emissionIntervalUs(limit);
    if (!Number.isSafeInteger(cost) || cost < 0) {
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        message: `invalid rate-limit cost ${cost}: expected an integer ≥ 0`,
      });
    }
    // A cost above burst + 1 is never admitted; clamping keeps cost · interval a safe integer inside the script.
    const sent = Math.min(cost, limit.burst + 2);
    if (!this.clock) return [interval, limit.burst, sent, '', 0];
    return [interval, limit.burst, sent, toMicros(this.clock.now()), CALLER_CLOCK_TTL_SLACK_MS];
  }
}
