import type { Clock } from '../core/index.js';
import { CircuitBreaker, MemoryLimiterStore, type RateDecision, type RateLimit } from '../ratelimit/index.js';

/**
 * A burst limit per caller SPIFFE ID, in process (GCRA on a MemoryLimiterStore), like Envoy's local rate limit.
 *
 * @example
 * const limits = new CallerLimits({ clock, limit: { rate: 100, period: 1000, burst: 50 } });
 * if (!limits.admit(peer.spiffeId).allowed) respond429();
 */
export class CallerLimits {
  private readonly store: MemoryLimiterStore;

  constructor(private readonly options: { clock: Clock; limit?: RateLimit; maxKeys?: number }) {
    this.store = new MemoryLimiterStore({ clock: options.clock, maxKeys: options.maxKeys ?? 100_000 });
  }

  /** Admits (and counts) one request of `caller`; always allowed when no limit is configured. */
  admit(caller: string): RateDecision {
    const limit = this.options.limit;
    if (!limit) return { allowed: true, remaining: Infinity, retryAfterMs: 0, resetAfterMs: 0 };
    return this.store.consumeSync(`caller:${caller}`, limit);
  }
}

/** Options of the per-upstream breakers (Envoy outlier-style consecutive failures). */
export interface UpstreamBreakerOptions {
  consecutiveFailures: number;
  openDurationMs: number;
}

/**
 * One circuit breaker per upstream service, created on first use.
 *
 * @example
 * const permit = breakers.of('backend').tryAcquire();
 */
export class UpstreamBreakers {
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(private readonly options: UpstreamBreakerOptions & { clock: Clock }) {}

  of(upstream: string): CircuitBreaker {
    let breaker = this.breakers.get(upstream);
    if (!breaker) {
      breaker = new CircuitBreaker({
        clock: this.options.clock,
        consecutiveFailures: this.options.consecutiveFailures,
        openDuration: this.options.openDurationMs,
      });
      this.breakers.set(upstream, breaker);
    }
    return breaker;
  }
}
