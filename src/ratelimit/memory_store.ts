import { GatehouseError, type Clock } from '../core/index.js';
import { decide, isIdle } from './gcra.js';
import type { ConsumeRequest, LimiterStore, RateDecision, RateLimit } from './ports.js';

/** Options of {@link MemoryLimiterStore}. */
export interface MemoryLimiterStoreOptions {
  clock: Clock;
  /** Keys kept before the least recently used one is evicted (config `ratelimit.memory.maxKeys`). */
  maxKeys: number;
}

/**
 * The in-process limiter store: a Map of key → TAT (a plain number of microseconds), bounded by least-recently-used
 * eviction (Map insertion order; a touched key is deleted and set again, so the first key is the least recently used).
 *
 * A key whose TAT is at or before now decides exactly like an absent key, so it is not stored, and evicting it changes
 * no decision. Evicting a key that is still owing (TAT in the future) forgives its debt: that is the price of bounded
 * memory, paid by the least recently seen client. `evictions` counts evictions of owing keys for metrics.
 *
 * @example
 * const store = new MemoryLimiterStore({ clock: systemClock, maxKeys: config.ratelimit.memory.maxKeys });
 * const d = store.consumeSync(`ip:${ip}`, { rate: 10, period: 1000, burst: 20 });
 */
export class MemoryLimiterStore implements LimiterStore {
  private readonly tats = new Map<string, number>();
  private readonly clock: Clock;
  private readonly maxKeys: number;
  /** Evictions of keys that were still owing (their TAT in the future); idle evictions are free and not counted. */
  evictions = 0;

  constructor(options: MemoryLimiterStoreOptions) {
    if (!Number.isSafeInteger(options.maxKeys) || options.maxKeys < 1) {
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        message: `MemoryLimiterStore maxKeys must be a positive integer, got ${options.maxKeys}`,
      });
    }
    this.clock = options.clock;
    this.maxKeys = options.maxKeys;
  }

  /** Keys currently held (at most `maxKeys`). */
  get size(): number {
    return this.tats.size;
  }

  /**
   * The synchronous decision for hot paths (no promise, no allocation beyond the result).
   *
   * @example
   * if (!store.consumeSync(key, limit).allowed) return reply.code(429).send();
   */
  consumeSync(key: string, limit: RateLimit, cost = 1): RateDecision {
    const now = this.clock.now();
    const stored = this.tats.get(key);
    const d = decide(stored, now, limit, cost);
    if (stored !== undefined) this.tats.delete(key);
    if (!isIdle(d.tat, now)) {
      this.tats.set(key, d.tat);
      if (this.tats.size > this.maxKeys) this.evictOldest(now);
    }
    return { allowed: d.allowed, remaining: d.remaining, retryAfterMs: d.retryAfterMs, resetAfterMs: d.resetAfterMs };
  }

  async consume(key: string, limit: RateLimit, cost = 1): Promise<RateDecision> {
    return this.consumeSync(key, limit, cost);
  }

  async consumeMany(requests: readonly ConsumeRequest[]): Promise<RateDecision[]> {
    return requests.map((r) => this.consumeSync(r.key, r.limit, r.cost ?? 1));
  }

  async reset(key: string): Promise<void> {
    this.tats.delete(key);
  }

  async close(): Promise<void> {
    this.tats.clear();
  }

  private evictOldest(now: number): void {
    const oldest = this.tats.keys().next();
    if (oldest.done) return;
    if (!isIdle(this.tats.get(oldest.value), now)) this.evictions += 1;
    this.tats.delete(oldest.value);
  }
}
