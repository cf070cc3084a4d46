import { GatehouseError, isGatehouseError, type Clock, type Logger } from '../core/index.js';
import { CircuitBreaker } from './breaker.js';
import type { ConsumeRequest, LimiterStore, RateDecision } from './ports.js';

/** Options of {@link GuardedStore}. */
export interface GuardedStoreOptions {
  /** The remote store (Redis). */
  store: LimiterStore;
  clock: Clock;
  logger: Logger;
  /** Longest wait for a decision before it counts as a failure. */
  timeoutMs: number;
  /** After a failure, time during which the store is not tried (decisions fail at once), then one trial. */
  retryMs: number;
  /** Log line (event and message) when the store goes down, and when it is back. */
  down: { event: string; message: string };
  recovered: { event: string; message: string };
}

/**
 * A remote limiter store behind a timeout and a breaker: a failure (ERR_STORE_UNAVAILABLE or any error that is not a
 * GatehouseError) or a timeout marks the store down for `retryMs`, during which decisions are not attempted (no
 * pile-up of waiting requests) and fail at once with ERR_STORE_UNAVAILABLE; then one trial decides whether it is back.
 * Going down and coming back are logged once each. What to do when the store is down is the caller's policy (the
 * gateway fails open or closed per route; the identity throttles count in process).
 *
 * @example
 * const guarded = new GuardedStore({ store, clock, logger, timeoutMs: 100, retryMs: 1000, down, recovered });
 * const decisions = await guarded.consumeMany(requests); // throws ERR_STORE_UNAVAILABLE when down
 */
export class GuardedStore {
  private readonly breaker: CircuitBreaker;

  constructor(private readonly o: GuardedStoreOptions) {
    this.breaker = new CircuitBreaker({
      clock: o.clock,
      consecutiveFailures: 1,
      openDuration: Math.max(1, o.retryMs),
      onStateChange: (change) => {
        if (change.to === 'open' && change.from === 'closed') {
          o.logger.warn({ event: o.down.event, retry_ms: o.retryMs }, o.down.message);
        } else if (change.to === 'closed') {
          o.logger.info({ event: o.recovered.event }, o.recovered.message);
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
    if (!permit.ok) throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'limiter store marked down' });
    let timer: NodeJS.Timeout | undefined;
    try {
      const decisions = await Promise.race([
        this.o.store.consumeMany(requests),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'limiter store timed out' })),
            this.o.timeoutMs,
          );
        }),
      ]);
      permit.done(true);
      return decisions;
    } catch (err) {
      if (err instanceof GatehouseError && !isGatehouseError(err, 'ERR_STORE_UNAVAILABLE')) {
        permit.done(true); // an invalid request, not an unavailable store
        throw err;
      }
      permit.done(false);
      throw err instanceof GatehouseError
        ? err
        : new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: (err as Error).message });
    } finally {
      clearTimeout(timer);
    }
  }
}
