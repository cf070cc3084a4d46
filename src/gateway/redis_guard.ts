import { isGatehouseError, type Clock, type Logger } from '../core/index.js';
import { GuardedStore, type ConsumeRequest, type LimiterStore, type RateDecision } from '../ratelimit/index.js';
import type { GatewayMetrics } from './gateway_metrics.js';

/**
 * The global (Redis) limiter store behind a timeout and a breaker (a {@link GuardedStore}): a failure or a timeout
 * marks the store down for `retryMs`, during which decisions are not attempted (no pile-up of waiting requests); then
 * one trial decides whether it is back. Every unavailable decision counts in `gatehouse_gateway_redis_errors_total`;
 * going down and coming back are logged once each.
 *
 * @example
 * const guard = new RedisGuard({ store, clock, logger, metrics, timeoutMs: 100, retryMs: 1000 });
 * const decisions = await guard.consumeMany(requests); // throws ERR_STORE_UNAVAILABLE when down
 */
export class RedisGuard {
  private readonly guarded: GuardedStore;

  constructor(
    private readonly o: {
      store: LimiterStore;
      clock: Clock;
      logger: Logger;
      metrics: GatewayMetrics;
      timeoutMs: number;
      retryMs: number;
    },
  ) {
    this.guarded = new GuardedStore({
      store: o.store,
      clock: o.clock,
      logger: o.logger,
      timeoutMs: o.timeoutMs,
      retryMs: o.retryMs,
      down: {
        event: 'gateway_redis_down',
        message: 'global rate limiter (Redis) unavailable: routes fail open or closed as configured',
      },
      recovered: { event: 'gateway_redis_recovered', message: 'global rate limiter (Redis) recovered' },
    });
  }

  /** True while the store is considered up. */
  get up(): boolean {
    return this.guarded.up;
  }

  async consumeMany(requests: readonly ConsumeRequest[]): Promise<RateDecision[]> {
    try {
      return await this.guarded.consumeMany(requests);
    } catch (err) {
      if (isGatehouseError(err, 'ERR_STORE_UNAVAILABLE')) this.o.metrics.redisErrors.inc();
      throw err;
    }
  }
}
