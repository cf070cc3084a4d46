import type { Clock } from '../core/index.js';
import {
  CircuitBreaker,
  MemoryLimiterStore,
  type BreakerState,
  type RateDecision,
  type RateLimit,
} from '../ratelimit/index.js';

/**
 * A burst limit per caller SPIFFE ID, in process (GCRA on a MemoryLimiterStore), like Envoy's local rate limit.
 *
 * @example
 * const limits = new CallerLimits({ clock, limit: { rate: 100, period: 1000, burst: 50 } });
 * if (!limits.admit(peer.spiffeId).allowed) respond429();
 */
export class CallerLimits {
  private store: MemoryLimiterStore;
  private limit: RateLimit | undefined;

  constructor(private readonly options: { clock: Clock; limit?: RateLimit; maxKeys?: number }) {
    this.store = this.newStore();
    this.limit = options.limit;
  }

  /** Admits (and counts) one request of `caller`; always allowed when no limit is configured. */
  admit(caller: string): RateDecision {
    const limit = this.limit;
    if (!limit) return { allowed: true, remaining: Infinity, retryAfterMs: 0, resetAfterMs: 0 };
    return this.store.consumeSync(`caller:${caller}`, limit);
  }

  /** Replaces the limit (hot reload); counters of callers are kept when it is unchanged, restarted otherwise. */
  setLimit(limit: RateLimit | undefined): void {
    const same = (a?: RateLimit, b?: RateLimit) =>
      a === b || (!!a && !!b && a.rate === b.rate && a.period === b.period && a.burst === b.burst);
    if (same(limit, this.limit)) return;
    this.limit = limit;
    this.store = this.newStore();
  }

  private newStore(): MemoryLimiterStore {
    return new MemoryLimiterStore({ clock: this.options.clock, maxKeys: this.options.maxKeys ?? 100_000 });
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

  constructor(private options: UpstreamBreakerOptions & { clock: Clock }) {}

  /** New settings (hot reload): unchanged ones keep every breaker's state, changed ones start them afresh. */
  configure(options: UpstreamBreakerOptions): void {
    const current = this.options;
    if (
      options.consecutiveFailures === current.consecutiveFailures &&
      options.openDurationMs === current.openDurationMs
    ) {
      return;
    }
    this.options = { ...options, clock: current.clock };
    this.breakers.clear();
  }

  /** Drops the breaker of an upstream that was removed or changed. */
  forget(upstream: string): void {
    this.breakers.delete(upstream);
  }

  /** The state of every breaker in use, by upstream name (metrics). */
  states(): Array<{ upstream: string; state: BreakerState }> {
    return [...this.breakers].map(([upstream, breaker]) => ({ upstream, state: breaker.state }));
  }

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
