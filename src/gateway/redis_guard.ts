import { GatehouseError, type Clock, type Logger } from '../core/index.js';
import { CircuitBreaker, type ConsumeRequest, type LimiterStore, type RateDecision } from '../ratelimit/index.js';
import type { GatewayMetrics } from './gateway_metrics.js';

/**
 * The global (Redis) limiter store behind a timeout and a breaker: a failure or a timeout marks the store down for
 * `retryMs`, during which decisions are not attempted (no pile-up of waiting requests); then one trial decides whether
 * it is back. Every unavailable decision counts in `gatehouse_gateway_redis_errors_total`; going down and coming back
 * are logged once each.
 *
 * @example
 * const guard = new RedisGuard({ store, clock, logger, metrics, timeoutMs: 100, retryMs: 1000 });
 * const decisions = await guard.consumeMany(requests); // throws ERR_STORE_UNAVAILABLE when down
 */
export class RedisGuard {
  private readonly breaker: CircuitBreaker;

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
    this.breaker = new CircuitBreaker({
      clock: o.clock,
      consecutiveFailures: 1,
      openDuration: Math.max(1, o.retryMs),
      onStateChange: (change) => {
        if (change.to === 'open' && change.from === 'closed') {
          o.logger.warn(
            { event: 'gateway_redis_down', retry_ms: o.retryMs },
            'global rate limiter (Redis) unavailable: routes fail open or closed as configured',
          );
        } else if (change.to === 'closed') {
          o.logger.info({ event: 'gateway_redis_recovered' }, 'global rate limiter (Redis) recovered');
        }
      },
    });
  }

  /** True while the store is considered up. */
  get up(): boolean {
    return this.breaker.state === 'closed';
  }

  async consumeMany(requests: readonly ConsumeRequest[]): Promise<RateDecision[]> {
    const permit = this.breaker.tryAcquire();
    if (!permit.ok) {
      this.o.metrics.redisErrors.inc();
      throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'redis limiter marked down' });
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const decisions = await Promise.race([
        this.o.store.consumeMany(requests),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'redis limiter timed out' })),
            this.o.timeoutMs,
          );
        }),
      ]);
      permit.done(true);
      return decisions;
    } catch (err) {
      permit.done(false);
      this.o.metrics.redisErrors.inc();
      throw err instanceof GatehouseError
        ? err
        : new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: (err as Error).message });
    } finally {
      clearTimeout(timer);
    }
  }
}
