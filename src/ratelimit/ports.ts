/**
 * The limiter port: what the gateway, the identity endpoints and the mesh need from a rate-limit store. Adapters:
 * {@link MemoryLimiterStore} (in process, the embedded default) and `RedisLimiterStore` (shared across replicas). Both
 * run GCRA with the same arithmetic and pass the same contract suite (test/ratelimit/limiter_store.contract.ts).
 *
 * @example
 * const decision = await store.consume(`client:${clientId}`, { rate: 100, period: 60_000, burst: 20 });
 * if (!decision.allowed) reply.header('Retry-After', Math.ceil(decision.retryAfterMs / 1000));
 */

/**
 * A limit: `rate` requests per `period` milliseconds, plus `burst` extra requests that may arrive at once.
 * `burst` does NOT count the first request: a fresh key admits `burst + 1` requests at one instant, then one every
 * `period / rate` ms. `{ rate: 1000, period: 1000, burst: 100 }` admits 101 at once, then one per millisecond.
 * `rate` and `period` are positive integers, `burst` a non-negative integer.
 */
export interface RateLimit {
  rate: number;
  /** Milliseconds. */
  period: number;
  burst: number;
}

/** The outcome of one decision. */
export interface RateDecision {
  allowed: boolean;
  /** How many more requests of cost 1 would be admitted right now (after this one, if it was admitted). */
  remaining: number;
  /**
   * 0 when allowed. Otherwise the smallest whole number of milliseconds after which the same request is admitted (if
   * nothing else consumes meanwhile); `Infinity` when `cost > burst + 1`, which no wait can admit.
   */
  retryAfterMs: number;
  /** Whole milliseconds (rounded up) until the key is back to its full burst, i.e. equivalent to a fresh key. */
  resetAfterMs: number;
  /**
   * Set only on a reservation (a request asked with `maxWait` that conforms later, within it): the whole
   * milliseconds to wait before going on. The slot is spent whether or not the caller waits.
   */
  delayMs?: number;
}

/** One request of {@link LimiterStore.consumeMany}. */
export interface ConsumeRequest {
  key: string;
  limit: RateLimit;
  /** Defaults to 1. 0 peeks without consuming. */
  cost?: number;
  /**
   * Milliseconds (default 0: none). A request over the limit that would conform within this time is admitted at that
   * time (a reservation: `delayMs` says how long to wait) instead of refused.
   */
  maxWait?: number;
}

/** The rate-limit store port. Keys are strings the caller builds (e.g. `ip:203.0.113.7`, `client:web`). */
export interface LimiterStore {
  /** Decides and, when admitted, consumes `cost` (default 1) atomically. */
  consume(key: string, limit: RateLimit, cost?: number): Promise<RateDecision>;
  /** Several decisions in order (one round trip on Redis); a key named twice sees its earlier consumption. */
  consumeMany(requests: readonly ConsumeRequest[]): Promise<RateDecision[]>;
  /** Forgets a key: its next request is decided as a fresh key's. */
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}
