import { GatehouseError } from '../../src/core/index.js';
import type { ConsumeRequest, LimiterStore, RateDecision } from '../../src/ratelimit/index.js';

/**
 * A limiter store around a real one for the global-tier tests: counts round trips, records what is asked and
 * answered, can be switched off (ERR_STORE_UNAVAILABLE, as an unreachable Redis), and runs `afterAnswer` after the
 * store answered and before the caller sees it (a slow answer moves a manual clock there).
 *
 * @example
 * const store = new WatchedLimiterStore(new RedisLimiterStore({ redis, keyPrefix, clock }));
 * store.down = true;
 */
export class WatchedLimiterStore implements LimiterStore {
  calls = 0;
  down = false;
  readonly asked: ConsumeRequest[] = [];
  readonly answered: RateDecision[] = [];
  afterAnswer: (() => void) | undefined;

  constructor(private readonly inner: LimiterStore) {}

  consume(key: string, limit: ConsumeRequest['limit'], cost?: number): Promise<RateDecision> {
    return this.inner.consume(key, limit, cost);
  }

  async consumeMany(requests: readonly ConsumeRequest[]): Promise<RateDecision[]> {
    this.calls += 1;
    this.asked.push(...requests.map((r) => ({ ...r })));
    if (this.down) throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'switched off' });
    const decisions = await this.inner.consumeMany(requests);
    this.answered.push(...decisions);
    this.afterAnswer?.();
    return decisions;
  }

  reset(key: string): Promise<void> {
    return this.inner.reset(key);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
