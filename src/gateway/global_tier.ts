import type { Clock } from '../core/index.js';
import type { ConsumeRequest, RateDecision } from '../ratelimit/index.js';
import type { GatewayMetrics } from './gateway_metrics.js';
import type { LimitSubject } from './limit_key.js';
import { admitted, gone, limited, track, type LimitVerdict, type Tightest } from './limit_verdict.js';
import type { OverLimitCache } from './over_limit_cache.js';
import type { RedisGuard } from './redis_guard.js';
import type { ClientPresence, Reservations } from './reservations.js';
import type { CompiledLimit, RouteLimits } from './route_limits.js';

/** Dependencies of {@link GlobalTier}. */
export interface GlobalTierOptions {
  guard: RedisGuard;
  overLimit: OverLimitCache;
  reservations: Reservations;
  clock: Clock;
  metrics: GatewayMetrics;
}

/**
 * The global limits of a request, decided in Redis in one script call (the local tier has admitted it already). Keys
 * the over-limit cache knows are refused are answered without a call. A throttled limit asks for a reservation: over
 * its limit but within `maxWait` of its slot, the script admits it at that slot and the request sleeps until then
 * (holding a place of its key's per-process queue, at most `maxQueue`); past `maxWait`, 429 with the time until the
 * slot. Shadow limits never wait. When Redis is unavailable each limit fails open (counted) or closed (503).
 *
 * @example
 * const tier = new GlobalTier({ guard, overLimit, reservations: new Reservations(), clock, metrics });
 * const verdict = await tier.decide('demo', routeLimits, subject, { name: undefined, decision: undefined }, res);
 */
export class GlobalTier {
  constructor(private readonly o: GlobalTierOptions) {}

  async decide(
    route: string,
    limits: RouteLimits,
    subject: LimitSubject,
    tightest: Tightest,
    client: ClientPresence | undefined,
  ): Promise<LimitVerdict> {
    const guard = this.o.guard;
    const now = this.o.clock.now();
    const asked: CompiledLimit[] = [];
    const requests: ConsumeRequest[] = [];
    for (const l of limits.limits) {
      if (l.tier !== 'global') continue;
      const key = l.keys.of(route, subject);
      const until = l.shadow ? 0 : this.o.overLimit.refusedUntil(key, now);
      if (until > 0) {
        this.o.metrics.overLimitCacheHits.inc();
        // A throttled key is remembered only until a reservation within maxWait is possible: its retry (the time
        // until it is admitted without a wait, as for a refusal from Redis) is maxWait after that.
        const retry = until - now + (l.throttle?.maxWait ?? 0);
        if (l.throttle) this.o.metrics.throttled.labels(route, l.name, 'limited').inc();
        return limited(this.o.metrics, route, limits, l.name, {
          allowed: false,
          remaining: 0,
          retryAfterMs: retry,
          resetAfterMs: retry,
        });
      }
      asked.push(l);
      requests.push({ key, limit: l.limit });
    }
    const reserving = this.reserve(asked, requests);
    let decisions: RateDecision[];
    try {
      decisions = await guard.consumeMany(requests);
    } catch {
      if (reserving) this.release(requests);
      const closed = asked.find((l) => l.failure === 'closed' && !l.shadow);
      if (closed) {
        return {
          outcome: 'unavailable',
          policy: limits.policy,
          rateLimit: undefined,
          retryAfterMs: 1000,
          violated: [closed.name],
        };
      }
      for (const l of asked) this.o.metrics.failOpen.labels(route, l.name).inc();
      return admitted(limits, tightest);
    }
    let delay = 0;
    for (let i = 0; i < asked.length; i += 1) {
      const l = asked[i] as CompiledLimit;
      const d = decisions[i] as RateDecision;
      if (!d.allowed) {
        if (l.shadow) {
          this.o.metrics.shadowLimited.labels(route, l.name).inc();
          continue;
        }
        if (reserving) this.release(requests);
        // From `now`, taken before the round trip: the decision was made at or after it, so the cached refusal never
        // outlives the real one (a late answer on a busy process would otherwise waste tokens). A throttled key only
        // until a wait of maxWait would reach its slot.
        const cached = d.retryAfterMs - (l.throttle?.maxWait ?? 0);
        if (Number.isFinite(cached) && cached > 0)
          this.o.overLimit.remember((requests[i] as ConsumeRequest).key, now + cached);
        if (l.throttle) this.o.metrics.throttled.labels(route, l.name, 'limited').inc();
        return limited(this.o.metrics, route, limits, l.name, d);
      }
      if (d.delayMs !== undefined && d.delayMs > delay) delay = d.delayMs;
      if (!l.shadow) track(tightest, l.name, d);
    }
    if (delay === 0) {
      if (reserving) this.release(requests);
      return admitted(limits, tightest);
    }
    return this.sleep(route, limits, tightest, asked, requests, decisions, delay, client);
  }

  /**
   * Takes a place in this process's queue of each throttled global limit's key (at most `maxQueue`) and asks that
   * decision with the limit's `maxWait`; a full queue asks without a wait (admitted only if the key conforms now).
   * True when a place was taken.
   */
  private reserve(asked: readonly CompiledLimit[], requests: ConsumeRequest[]): boolean {
    let reserving = false;
    for (let i = 0; i < asked.length; i += 1) {
      const t = (asked[i] as CompiledLimit).throttle;
      if (t === undefined || (asked[i] as CompiledLimit).shadow) continue;
      const r = requests[i] as ConsumeRequest;
      if (!this.o.reservations.take(r.key, t.maxQueue)) continue;
      r.maxWait = t.maxWait;
      reserving = true;
    }
    return reserving;
  }

  private release(requests: readonly ConsumeRequest[]): void {
    for (const r of requests) if (r.maxWait) this.o.reservations.release(r.key);
  }

  /** Sleeps until the latest reservation of the request comes (its places held meanwhile), then admits it. */
  private async sleep(
    route: string,
    limits: RouteLimits,
    tightest: Tightest,
    asked: readonly CompiledLimit[],
    requests: readonly ConsumeRequest[],
    decisions: readonly RateDecision[],
    delay: number,
    client: ClientPresence | undefined,
  ): Promise<LimitVerdict> {
    const stayed = await this.o.reservations.sleep(delay, client);
    this.release(requests);
    for (let i = 0; i < asked.length; i += 1) {
      if (decisions[i]?.delayMs === undefined) continue;
      this.o.metrics.throttled.labels(route, (asked[i] as CompiledLimit).name, stayed ? 'admitted' : 'abandoned').inc();
    }
    if (!stayed) return gone(limits);
    return admitted(limits, tightest);
  }
}
