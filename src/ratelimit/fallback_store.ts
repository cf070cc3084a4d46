import { isGatehouseError, type Clock, type Logger } from '../core/index.js';
import { GuardedStore } from './guarded_store.js';
import type { ConsumeRequest, LimiterStore, RateDecision, RateLimit } from './ports.js';

/** Options of {@link FallbackLimiterStore}. */
export interface FallbackLimiterStoreOptions {
  /** The shared store (Redis): its counts are what every replica sees. */
  shared: LimiterStore;
  /** The in-process store used while the shared one is unavailable. */
  local: LimiterStore;
  clock: Clock;
  logger: Logger;
  /** Longest wait for a shared decision before it counts as a failure. */
  timeoutMs: number;
  /** After a failure, time during which decisions stay local before the shared store is tried again. */
  retryMs: number;
}

/**
 * A shared limiter store that degrades to a local one: decisions go to `shared` (one Redis for every replica) through
 * a {@link GuardedStore}; when it fails (ERR_STORE_UNAVAILABLE) or takes longer than `timeoutMs`, this and the
 * following decisions for `retryMs` are made by `local`, so limits keep applying per process instead of failing every
 * request or none. Going local and coming back are logged once each (`limiter_shared_down`,
 * `limiter_shared_recovered`). Other errors (an invalid limit) propagate.
 *
 * @example
 * const limiter = new FallbackLimiterStore({ shared: redisStore, local: memoryStore, clock, logger, timeoutMs: 200, retryMs: 1000 });
 * const [d] = await limiter.consumeMany([{ key: 'identity:fail-addr:203.0.113.7', limit, cost: 1 }]);
 */
export class FallbackLimiterStore implements LimiterStore {
  private readonly guarded: GuardedStore;

  constructor(private readonly o: FallbackLimiterStoreOptions) {
    this.guarded = new GuardedStore({
      store: o.shared,
      clock: o.clock,
      logger: o.logger,
      timeoutMs: o.timeoutMs,
      retryMs: o.retryMs,
      down: {
        event: 'limiter_shared_down',
        message: 'shared rate-limit store (Redis) unavailable: limits are counted in this process until it is back',
      },
      recovered: { event: 'limiter_shared_recovered', message: 'shared rate-limit store (Redis) recovered' },
    });
  }

  /** True while decisions go to the shared store. */
  get shared(): boolean {
    return this.guarded.up;
  }

  async consume(key: string, limit: RateLimit, cost = 1): Promise<RateDecision> {
    const [decision] = await this.consumeMany([{ key, limit, cost }]);
    return decision as RateDecision;
  }

  async consumeMany(requests: readonly ConsumeRequest[]): Promise<RateDecision[]> {
    try {
      return await this.guarded.consumeMany(requests);
    } catch (err) {
      if (!isGatehouseError(err, 'ERR_STORE_UNAVAILABLE')) throw err;
      return this.o.local.consumeMany(requests);
    }
  }

  /** Forgets the key in both stores (the shared one only while it answers). */
  async reset(key: string): Promise<void> {
    await this.o.local.reset(key);
    try {
      await this.o.shared.reset(key);
    } catch (err) {
      if (!isGatehouseError(err, 'ERR_STORE_UNAVAILABLE')) throw err;
    }
  }

  /** Closes the local store; the shared one belongs to its creator (who also owns its connection). */
  async close(): Promise<void> {
    await this.o.local.close();
  }
}
