import type { Clock } from '../core/index.js';
import { emissionIntervalUs, type MemoryLimiterStore, type RateDecision } from '../ratelimit/index.js';
import type { GatewayMetrics } from './gateway_metrics.js';
import { GlobalTier } from './global_tier.js';
import type { LimitSubject } from './limit_key.js';
import { admitted, gone, limited, track, type LimitVerdict, type Tightest } from './limit_verdict.js';
import type { OverLimitCache } from './over_limit_cache.js';
import type { RedisGuard } from './redis_guard.js';
import { Reservations, type ClientPresence } from './reservations.js';
import type { CompiledLimit, RouteLimits } from './route_limits.js';
import type { Throttle } from './throttle.js';

/** Dependencies of {@link GatewayLimiter}. */
export interface GatewayLimiterOptions {
  local: MemoryLimiterStore;
  /** The global tier; without it, `global` limits decide in process (one gateway). */
  global: RedisGuard | undefined;
  overLimit: OverLimitCache;
  throttle: Throttle;
  /** Requests sleeping on reservations of throttled global limits (a fresh one by default). */
  reservations?: Reservations;
  clock: Clock;
  metrics: GatewayMetrics;
}

/**
 * The rate-limit stage. Local limits decide synchronously on the in-process GCRA store (no promise on the fast path);
 * global limits of a request go to Redis in one pipelined round trip, except keys the over-limit cache already knows
 * are refused. Shadow limits count and admit, and appear in no RateLimit header (a client must not back off for a limit
 * that is not enforced). Throttled local limits queue (see {@link Throttle}); throttled global limits ask Redis for a
 * reservation within `maxWait` and sleep until it (see {@link Reservations}). When Redis is unavailable each global
 * limit fails open (counted) or closed (503) as configured.
 *
 * @example
 * const verdict = await limiter.check('demo', routeLimits, { route: 'demo', clientIp, principal }, res);
 * if (verdict.outcome === 'limited') return send429(verdict);
 */
export class GatewayLimiter {
  private readonly globalTier: GlobalTier | undefined;

  constructor(private readonly o: GatewayLimiterOptions) {
    this.globalTier = o.global
      ? new GlobalTier({
          guard: o.global,
          overLimit: o.overLimit,
          reservations: o.reservations ?? new Reservations(),
          clock: o.clock,
          metrics: o.metrics,
        })
      : undefined;
  }

  /** `client` (the response) ends a throttle wait or a reservation sleep early when it leaves (only waits watch it). */
  check(
    route: string,
    limits: RouteLimits,
    subject: LimitSubject,
    client?: ClientPresence,
  ): LimitVerdict | Promise<LimitVerdict> {
    if (limits.limits.length === 0)
      return { outcome: 'admit', policy: undefined, rateLimit: undefined, retryAfterMs: 0, violated: [] };
    return this.loop(route, limits, subject, 0, { name: undefined, decision: undefined }, client);
  }

  private loop(
    route: string,
    limits: RouteLimits,
    subject: LimitSubject,
    start: number,
    tightest: Tightest,
    client: ClientPresence | undefined,
  ): LimitVerdict | Promise<LimitVerdict> {
    const list = limits.limits;
    for (let i = start; i < list.length; i += 1) {
      const l = list[i] as CompiledLimit;
      if (l.tier === 'global' && this.globalTier !== undefined) continue;
      const key = l.keys.of(route, subject);
      const queueBehind = l.throttle !== undefined && !l.shadow && this.o.throttle.busy(key);
      const d = queueBehind ? undefined : this.o.local.consumeSync(key, l.limit);
      if (d === undefined || !d.allowed) {
        if (l.shadow) {
          this.o.metrics.shadowLimited.labels(route, l.name).inc();
          continue;
        }
        if (l.throttle) return this.throttled(route, limits, subject, i, tightest, key, d, client);
        return limited(this.o.metrics, route, limits, l.name, d as RateDecision);
      }
      if (!l.shadow) track(tightest, l.name, d);
    }
    if (this.globalTier === undefined || !list.some((l) => l.tier === 'global')) return admitted(limits, tightest);
    return this.globalTier.decide(route, limits, subject, tightest, client);
  }

  private async throttled(
    route: string,
    limits: RouteLimits,
    subject: LimitSubject,
    i: number,
    tightest: Tightest,
    key: string,
    refused: RateDecision | undefined,
    client: ClientPresence | undefined,
  ): Promise<LimitVerdict> {
    const l = limits.limits[i] as CompiledLimit;
    const attempt = () => this.o.local.consumeSync(key, l.limit);
    const first = refused ?? this.behindQueue(key, l);
    const d = await this.o.throttle.wait(
      key,
      attempt,
      first,
      l.throttle as { maxWait: number; maxQueue: number },
      client,
    );
    const outcome = d === undefined ? 'abandoned' : d.allowed ? 'admitted' : 'limited';
    this.o.metrics.throttled.labels(route, l.name, outcome).inc();
    if (d === undefined) return gone(limits);
    if (!d.allowed) return limited(this.o.metrics, route, limits, l.name, d);
    track(tightest, l.name, d);
    return this.loop(route, limits, subject, i + 1, tightest, client);
  }

  /**
   * The refusal a newcomer to a busy throttle queue stands on: it is admitted only after everyone queued before it,
   * so its wait is the time until `queued + 1` more requests fit the limit (a peek: nothing is consumed). This is
   * what Retry-After and `t` say when the queue is full or the wait exceeds `maxWait`.
   */
  private behindQueue(key: string, l: CompiledLimit): RateDecision {
    const peek = this.o.local.consumeSync(key, l.limit, 0);
    const intervalMs = emissionIntervalUs(l.limit) / 1000;
    const ahead = this.o.throttle.queued(key) + 1;
    const wait = Math.max(0, Math.ceil(peek.resetAfterMs + (ahead - (l.limit.burst + 1)) * intervalMs));
    return { allowed: false, remaining: 0, retryAfterMs: wait, resetAfterMs: Math.max(peek.resetAfterMs, wait) };
  }
}
