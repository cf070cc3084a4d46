import type { Redis } from 'ioredis';
import { GatehouseError, type Clock } from '../../core/index.js';
import {
  decideMicros,
  emissionIntervalUs,
  toMicros,
  validCost,
  waitMicros,
  type ConsumeRequest,
  type LimiterStore,
  type RateDecision,
  type RateLimit,
} from '../../ratelimit/index.js';
import { GCRA_BATCH_LUA } from './gcra_script.js';

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
  /**
   * Most decisions in one script call (default 64, at most 4096: the script unpacks its keys into one MGET). A larger
   * burst goes out as several pipelined calls: Redis starts on the first while the next is encoded, and the replies
   * are read while Redis works on the rest. With 100 decisions at once, 64 gave 8 % more decisions/s than 128 at
   * 5–8 % more Redis CPU per decision (bench/suites/gateway_limiter, 2026-11-30).
   */
  maxBatch?: number;
  /** Script calls awaiting Redis at once; decisions made meanwhile wait and go in the next batch (default 4). */
  maxInFlight?: number;
}

/** Extra lifetime given to keys when the caller's clock decides, in case it runs behind the server's. */
const CALLER_CLOCK_TTL_SLACK_MS = 60_000;
const COMMAND = 'gatehouseGcraBatchV5';

type Scripted = { [COMMAND](keyCount: number, ...keysThenArgs: Array<string | number>): Promise<number[]> };

/** A decision waiting for its batch. */
interface Pending {
  key: string;
  interval: number;
  burst: number;
  cost: number;
  /** Longest reservation delay, µs (0: none). */
  wait: number;
  resolve(d: RateDecision): void;
  reject(err: unknown): void;
}

/**
 * The decision from the script's one number (the TAT relative to now: `≥ 0` admitted, `-1 - (tat - now)` refused):
 * the GCRA arithmetic of src/ratelimit/gcra.ts on the TAT the script started from, relative to now (so now is 0),
 * with the interval, burst, cost and wait sent, gives the numbers the script's own arithmetic did (a reservation's
 * delay included), and the memory store's.
 */
function toDecision(reply: number, p: Pending): RateDecision {
  const before = reply >= 0 ? reply - p.cost * p.interval : -1 - reply;
  const d = decideMicros(before, 0, p.interval, p.burst, p.cost, p.wait);
  if (d.delayMs === undefined) {
    return { allowed: d.allowed, remaining: d.remaining, retryAfterMs: d.retryAfterMs, resetAfterMs: d.resetAfterMs };
  }
  return { allowed: true, remaining: 0, retryAfterMs: 0, resetAfterMs: d.resetAfterMs, delayMs: d.delayMs };
}

function unavailable(err: unknown): GatehouseError {
  return new GatehouseError('ERR_STORE_UNAVAILABLE', {
    detail: `redis limiter: ${err instanceof Error ? err.message : String(err)}`,
    cause: err,
  });
}

/**
 * The shared limiter store: GCRA in a Lua script (atomic per key), loaded once with `defineCommand` (EVALSHA, falling
 * back to EVAL after a server restart). Decisions are batched: those made in the same tick (and those made while
 * `maxInFlight` script calls are already awaiting Redis) share one script call, so under load many decisions cost one
 * round trip, and an idle store sends each decision at once. Time is the Redis server's `TIME` (read once per batch)
 * unless a clock is given. Each key holds one integer (its TAT in µs) and expires 1–2 s after that TAT passes (the
 * script keeps a key's expiry while its TAT stays in the same second: see gcra_script.ts).
 *
 * Failures reject with ERR_STORE_UNAVAILABLE; whether to fail open is the caller's policy.
 *
 * @example
 * const store = new RedisLimiterStore({ redis: new Redis(config.redis.url), keyPrefix: 'gatehouse:rl:' });
 * const d = await store.consume(`client:${clientId}`, { rate: 100, period: 60_000, burst: 20 });
 */
export class RedisLimiterStore implements LimiterStore {
  private readonly redis: Redis;
  private readonly keyPrefix: string;
  private readonly clock: Clock | undefined;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private queue: Pending[] = [];
  private scheduled = false;
  private inFlight = 0;
  private closed = false;

  constructor(options: RedisLimiterStoreOptions) {
    this.redis = options.redis;
    this.keyPrefix = options.keyPrefix;
    this.clock = options.clock;
    this.maxBatch = options.maxBatch ?? 64;
    this.maxInFlight = options.maxInFlight ?? 4;
    if (!(Number.isSafeInteger(this.maxBatch) && this.maxBatch >= 1 && this.maxBatch <= 4096)) {
      throw new GatehouseError('ERR_CONFIG_INVALID', { message: `RedisLimiterStore maxBatch must be 1..4096` });
    }
    if (!(Number.isSafeInteger(this.maxInFlight) && this.maxInFlight >= 1)) {
      throw new GatehouseError('ERR_CONFIG_INVALID', { message: `RedisLimiterStore maxInFlight must be ≥ 1` });
    }
    if (!(COMMAND in this.redis)) this.redis.defineCommand(COMMAND, { lua: GCRA_BATCH_LUA });
  }

  consume(key: string, limit: RateLimit, cost = 1): Promise<RateDecision> {
    try {
      return this.enqueue(key, limit, cost);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  consumeMany(requests: readonly ConsumeRequest[]): Promise<RateDecision[]> {
    try {
      // Validate every request before queueing any, so a bad one changes no counter.
      this.ensureOpen();
      for (const r of requests) validate(r.limit, r.cost ?? 1, r.maxWait ?? 0);
      return Promise.all(requests.map((r) => this.enqueue(r.key, r.limit, r.cost ?? 1, r.maxWait ?? 0)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async reset(key: string): Promise<void> {
    this.ensureOpen();
    try {
      await this.redis.del(this.keyPrefix + key);
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Marks the store closed; the client stays connected (its creator owns it). Queued decisions still go out. */
  async close(): Promise<void> {
    this.closed = true;
  }

  private ensureOpen(): void {
    if (this.closed) throw unavailable(new Error('the store is closed'));
  }

  /** Validates (throws ERR_CONFIG_INVALID before any round trip) and queues one decision. */
  private enqueue(key: string, limit: RateLimit, cost: number, maxWait = 0): Promise<RateDecision> {
    this.ensureOpen();
    const interval = validate(limit, cost, maxWait);
    const wait = maxWait === 0 ? 0 : waitMicros(maxWait);
    // A cost above burst + 1 is never admitted; clamping keeps cost · interval a safe integer inside the script.
    const sent = Math.min(cost, limit.burst + 2);
    return new Promise<RateDecision>((resolve, reject) => {
      this.queue.push({ key: this.keyPrefix + key, interval, burst: limit.burst, cost: sent, wait, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  /** Sends queued decisions in batches while fewer than `maxInFlight` script calls await Redis. */
  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
      this.queue = this.queue.length <= this.maxBatch ? [] : this.queue.slice(this.maxBatch);
      this.send(batch);
    }
  }

  private send(batch: Pending[]): void {
    const keysThenArgs: Array<string | number> = batch.map((p) => p.key);
    // Whether every key is distinct: then the script writes each as it decides it, tracking no repeats.
    const distinct = batch.length === 1 || new Set(keysThenArgs).size === batch.length;
    if (this.clock) keysThenArgs.push(toMicros(this.clock.now()), CALLER_CLOCK_TTL_SLACK_MS);
    else keysThenArgs.push('', 0);
    keysThenArgs.push(distinct ? 1 : 0);
    // The distinct (interval, burst, cost, wait) quadruples of the batch, then each decision's 1-based index. Decisions
    // in a row usually share their limit: the previous quadruple is tried before the map.
    const limits = new Map<string, number>();
    const indexes: number[] = [];
    const countAt = keysThenArgs.push(0) - 1;
    let last: Pending | undefined;
    let lastIndex = 0;
    for (const p of batch) {
      if (
        last === undefined ||
        last.interval !== p.interval ||
        last.burst !== p.burst ||
        last.cost !== p.cost ||
        last.wait !== p.wait
      ) {
        const id = `${p.interval}:${p.burst}:${p.cost}:${p.wait}`;
        let index = limits.get(id);
        if (index === undefined) {
          index = limits.size + 1;
          limits.set(id, index);
          keysThenArgs.push(p.interval, p.burst, p.cost, p.wait);
        }
        last = p;
        lastIndex = index;
      }
      indexes.push(lastIndex);
    }
    keysThenArgs[countAt] = limits.size;
    // One limit for the whole batch (the usual case): the script needs no index per decision.
    if (limits.size > 1) for (const index of indexes) keysThenArgs.push(index);
    this.inFlight += 1;
    (this.redis as unknown as Scripted)[COMMAND](batch.length, ...keysThenArgs).then(
      (reply) => {
        this.done();
        for (let i = 0; i < batch.length; i += 1) {
          const p = batch[i] as Pending;
          p.resolve(toDecision(reply[i] as number, p));
        }
      },
      (err: unknown) => {
        this.done();
        const failure = unavailable(err);
        for (const p of batch) p.reject(failure);
      },
    );
  }

  private done(): void {
    this.inFlight -= 1;
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }
}

/** Checks a limit, a cost and a wait; returns the emission interval (µs). Throws ERR_CONFIG_INVALID. */
function validate(limit: RateLimit, cost: number, maxWait: number): number {
  const interval = emissionIntervalUs(limit);
  if (maxWait !== 0) waitMicros(maxWait);
  validCost(cost);
  return interval;
}
