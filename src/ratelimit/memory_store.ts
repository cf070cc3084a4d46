import { GatehouseError, type Clock } from '../core/index.js';
import { decideMicros, isIdle, LimitIntervals, toMicros, validCost, waitMicros } from './gcra.js';
import type { ConsumeRequest, LimiterStore, RateDecision, RateLimit } from './ports.js';

/** Options of {@link MemoryLimiterStore}. */
export interface MemoryLimiterStoreOptions {
  clock: Clock;
  /** Keys kept before the least recently used one is evicted (config `ratelimit.memory.maxKeys`). */
  maxKeys: number;
}

/**
 * The in-process limiter store: key → TAT (a plain number of microseconds) in two generations of Maps, bounded like
 * an LRU but cheaper. A decision on a key of the current generation is one `get` and one `set` of an existing entry
 * (no reordering); a key found in the previous generation moves to the current one. When the current generation
 * holds `maxKeys / 2` keys it becomes the previous one and the old previous generation is dropped whole. So a key
 * used among the last `maxKeys / 2` distinct keys is never evicted, at most `maxKeys` keys are held, and eviction
 * costs O(1) amortized (a strict LRU deletes and re-inserts on every touch: about half the cost of a decision).
 *
 * A key whose TAT is at or before now decides exactly like an absent key, so it is not stored, and evicting it changes
 * no decision. Evicting a key that is still owing (TAT in the future) forgives its debt: that is the price of bounded
 * memory, paid by the least recently seen clients. `evictions` counts evictions of owing keys for metrics.
 *
 * @example
 * const store = new MemoryLimiterStore({ clock: systemClock, maxKeys: config.ratelimit.memory.maxKeys });
 * const d = store.consumeSync(`ip:${ip}`, { rate: 10, period: 1000, burst: 20 });
 */
export class MemoryLimiterStore implements LimiterStore {
  private current = new Map<string, number>();
  private previous = new Map<string, number>();
  private readonly clock: Clock;
  /** Keys per generation: floor(maxKeys / 2), at least 1 (with maxKeys 1 the previous generation stays empty). */
  private readonly generation: number;
  private readonly keepPrevious: boolean;
  private readonly intervals = new LimitIntervals();
  /** Evictions of keys that were still owing (their TAT in the future); idle evictions are free and not counted. */
  evictions = 0;

  constructor(options: MemoryLimiterStoreOptions) {
    if (!Number.isSafeInteger(options.maxKeys) || options.maxKeys < 1) {
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        message: `MemoryLimiterStore maxKeys must be a positive integer, got ${options.maxKeys}`,
      });
    }
    this.clock = options.clock;
    this.generation = Math.max(1, Math.floor(options.maxKeys / 2));
    this.keepPrevious = options.maxKeys >= 2;
  }

  /** Keys currently held (at most `maxKeys`). */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  /**
   * The synchronous decision for hot paths (no promise, no allocation beyond the result). With `maxWait` (ms), a
   * request that conforms within it is admitted as a reservation (`delayMs`), as `ConsumeRequest.maxWait` says.
   *
   * @example
   * if (!store.consumeSync(key, limit).allowed) return reply.code(429).send();
   */
  consumeSync(key: string, limit: RateLimit, cost = 1, maxWait = 0): RateDecision {
    const interval = this.intervals.of(limit);
    const checkedCost = validCost(cost);
    const wait = maxWait === 0 ? 0 : waitMicros(maxWait);
    const nowMs = this.clock.now();
    const now = toMicros(nowMs);
    let stored = this.current.get(key);
    const inCurrent = stored !== undefined;
    if (!inCurrent && this.previous.size > 0) {
      stored = this.previous.get(key);
      if (stored !== undefined) this.previous.delete(key);
    }
    const d = decideMicros(stored, now, interval, limit.burst, checkedCost, wait);
    // A TAT at or before now decides like an absent key (isIdle): not stored.
    if (d.tat > now) {
      if (inCurrent) this.current.set(key, d.tat);
      else this.insert(key, d.tat, nowMs);
    } else if (inCurrent) {
      this.current.delete(key);
    }
    if (d.delayMs === undefined) {
      return { allowed: d.allowed, remaining: d.remaining, retryAfterMs: d.retryAfterMs, resetAfterMs: d.resetAfterMs };
    }
    return { allowed: true, remaining: 0, retryAfterMs: 0, resetAfterMs: d.resetAfterMs, delayMs: d.delayMs };
  }

  async consume(key: string, limit: RateLimit, cost = 1): Promise<RateDecision> {
    return this.consumeSync(key, limit, cost);
  }

  async consumeMany(requests: readonly ConsumeRequest[]): Promise<RateDecision[]> {
    return requests.map((r) => this.consumeSync(r.key, r.limit, r.cost ?? 1, r.maxWait ?? 0));
  }

  async reset(key: string): Promise<void> {
    this.current.delete(key);
    this.previous.delete(key);
  }

  async close(): Promise<void> {
    this.current.clear();
    this.previous.clear();
  }

  /** Adds a key to the current generation, turning generations over first when it is full. */
  private insert(key: string, tat: number, now: number): void {
    if (this.current.size >= this.generation) {
      this.countOwing(this.previous, now);
      if (this.keepPrevious) {
        this.previous = this.current;
      } else {
        this.countOwing(this.current, now);
        this.previous = new Map();
      }
      this.current = new Map();
    }
    this.current.set(key, tat);
  }

  private countOwing(dropped: Map<string, number>, now: number): void {
    for (const tat of dropped.values()) if (!isIdle(tat, now)) this.evictions += 1;
  }
}
