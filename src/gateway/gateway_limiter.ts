import type { Clock } from '../core/index.js';
import { emissionIntervalUs, type MemoryLimiterStore, type RateDecision, type RateLimit } from '../ratelimit/index.js';
import type { LimitConfig, LimitKeyPart } from './gateway_config.js';
import type { GatewayMetrics } from './gateway_metrics.js';
import { LimitKeys, type LimitSubject } from './limit_key.js';
import type { OverLimitCache } from './over_limit_cache.js';
import { policyHeader, rateLimitHeader } from './ratelimit_headers.js';
import type { RedisGuard } from './redis_guard.js';
import type { Throttle } from './throttle.js';

/** A route's limit, ready to decide. */
export interface CompiledLimit {
  name: string;
  parts: readonly LimitKeyPart[];
  /** The store keys of this limit (remembered per principal where the key does not depend on the address). */
  keys: LimitKeys;
  limit: RateLimit;
  tier: 'local' | 'global';
  shadow: boolean;
  failure: 'open' | 'closed';
  throttle: { maxWait: number; maxQueue: number } | undefined;
}

/** A route's limits with their `RateLimit-Policy` header. */
export interface RouteLimits {
  limits: readonly CompiledLimit[];
  /** Undefined when the route enforces no limit (none, or shadow limits only: they are never advertised). */
  policy: string | undefined;
}

/** The rate-limit stage's answer. */
export interface LimitVerdict {
  outcome: 'admit' | 'limited' | 'unavailable';
  /** `RateLimit-Policy` and `RateLimit` values (undefined when the route has no limits or none decided). */
  policy: string | undefined;
  rateLimit: string | undefined;
  retryAfterMs: number;
  /** Names of the limits that refused. */
  violated: string[];
}

/**
 * Validates and compiles a route's limits (ERR_CONFIG_INVALID on a malformed one).
 *
 * @example
 * const compiled = compileLimits(route.limits);
 */
export function compileLimits(limits: readonly LimitConfig[]): RouteLimits {
  const compiled = limits.map((l) => {
    const limit = { rate: l.rate, period: l.per, burst: l.burst };
    emissionIntervalUs(limit);
    return {
      name: l.name,
      parts: l.key,
      // The parameters are part of the counter's identity: a reload that changes them starts the limit afresh (its
      // old state read under the new policy would refuse for the old period), one that keeps them keeps its counters.
      keys: new LimitKeys(`${l.name}@${l.rate}:${l.per}:${l.burst}`, l.key),
      limit,
      tier: l.tier,
      shadow: l.shadow,
      failure: l.failure,
      throttle: l.throttle ? { maxWait: l.throttle.maxWait, maxQueue: l.throttle.maxQueue } : undefined,
    };
  });
  const enforced = compiled.filter((c) => !c.shadow);
  return {
    limits: compiled,
    policy:
      enforced.length === 0
        ? undefined
        : policyHeader(enforced.map((c) => ({ ...c.limit, per: c.limit.period, name: c.name }))),
  };
}

interface Tightest {
  name: string | undefined;
  decision: RateDecision | undefined;
}

/** Dependencies of {@link GatewayLimiter}. */
export interface GatewayLimiterOptions {
  local: MemoryLimiterStore;
  /** The global tier; without it, `global` limits decide in process (one gateway). */
  global: RedisGuard | undefined;
  overLimit: OverLimitCache;
  throttle: Throttle;
  clock: Clock;
  metrics: GatewayMetrics;
}

/**
 * The rate-limit stage. Local limits decide synchronously on the in-process GCRA store (no promise on the fast path);
 * global limits of a request go to Redis in one pipelined round trip, except keys the over-limit cache already knows
 * are refused. Shadow limits count and admit, and appear in no RateLimit header (a client must not back off for a limit
 * that is not enforced). Throttled limits queue (see {@link Throttle}). When Redis is unavailable
 * each global limit fails open (counted) or closed (503) as configured.
 *
 * @example
 * const verdict = await limiter.check('demo', routeLimits, { route: 'demo', clientIp, principal });
 * if (verdict.outcome === 'limited') return send429(verdict);
 */
export class GatewayLimiter {
  constructor(private readonly o: GatewayLimiterOptions) {}

  check(route: string, limits: RouteLimits, subject: LimitSubject): LimitVerdict | Promise<LimitVerdict> {
    if (limits.limits.length === 0)
      return { outcome: 'admit', policy: undefined, rateLimit: undefined, retryAfterMs: 0, violated: [] };
    return this.loop(route, limits, subject, 0, { name: undefined, decision: undefined });
  }

  private loop(
    route: string,
    limits: RouteLimits,
    subject: LimitSubject,
    start: number,
    tightest: Tightest,
  ): LimitVerdict | Promise<LimitVerdict> {
    const list = limits.limits;
    for (let i = start; i < list.length; i += 1) {
      const l = list[i] as CompiledLimit;
      if (l.tier === 'global' && this.o.global !== undefined) continue;
      const key = l.keys.of(route, subject);
      const queueBehind = l.throttle !== undefined && !l.shadow && this.o.throttle.busy(key);
      const d = queueBehind ? undefined : this.o.local.consumeSync(key, l.limit);
      if (d === undefined || !d.allowed) {
        if (l.shadow) {
          this.o.metrics.shadowLimited.labels(route, l.name).inc();
          continue;
        }
        if (l.throttle) return this.throttled(route, limits, subject, i, tightest, key, d);
        return this.limited(route, limits, l.name, d as RateDecision);
      }
      if (!l.shadow) track(tightest, l.name, d);
    }
    if (this.o.global === undefined || !list.some((l) => l.tier === 'global')) return this.admit(limits, tightest);
    return this.global(route, limits, subject, tightest);
  }

  private async throttled(
    route: string,
    limits: RouteLimits,
    subject: LimitSubject,
    i: number,
    tightest: Tightest,
    key: string,
    refused: RateDecision | undefined,
  ): Promise<LimitVerdict> {
    const l = limits.limits[i] as CompiledLimit;
    const attempt = () => this.o.local.consumeSync(key, l.limit);
    const first = refused ?? this.behindQueue(key, l);
    const d = await this.o.throttle.wait(key, attempt, first, l.throttle as { maxWait: number; maxQueue: number });
    this.o.metrics.throttled.labels(route, l.name, d.allowed ? 'admitted' : 'limited').inc();
    if (!d.allowed) return this.limited(route, limits, l.name, d);
    track(tightest, l.name, d);
    return this.loop(route, limits, subject, i + 1, tightest);
  }

  private async global(
    route: string,
    limits: RouteLimits,
    subject: LimitSubject,
    tightest: Tightest,
  ): Promise<LimitVerdict> {
    const guard = this.o.global as RedisGuard;
    const now = this.o.clock.now();
    const asked: Array<{ l: CompiledLimit; key: string }> = [];
    for (const l of limits.limits) {
      if (l.tier !== 'global') continue;
      const key = l.keys.of(route, subject);
      const until = l.shadow ? 0 : this.o.overLimit.refusedUntil(key, now);
      if (until > 0) {
        this.o.metrics.overLimitCacheHits.inc();
        return this.limited(route, limits, l.name, {
          allowed: false,
          remaining: 0,
          retryAfterMs: until - now,
          resetAfterMs: until - now,
        });
      }
      asked.push({ l, key });
    }
    let decisions: RateDecision[];
    try {
      decisions = await guard.consumeMany(asked.map(({ l, key }) => ({ key, limit: l.limit })));
    } catch {
      const closed = asked.find(({ l }) => l.failure === 'closed' && !l.shadow);
      if (closed) {
        return {
          outcome: 'unavailable',
          policy: limits.policy,
          rateLimit: undefined,
          retryAfterMs: 1000,
          violated: [closed.l.name],
        };
      }
      for (const { l } of asked) this.o.metrics.failOpen.labels(route, l.name).inc();
      return this.admit(limits, tightest);
    }
    for (let i = 0; i < asked.length; i += 1) {
      const { l, key } = asked[i] as { l: CompiledLimit; key: string };
      const d = decisions[i] as RateDecision;
      if (!d.allowed) {
        if (l.shadow) {
          this.o.metrics.shadowLimited.labels(route, l.name).inc();
          continue;
        }
        // From `now`, taken before the round trip: the decision was made at or after it, so the cached refusal never
        // outlives the real one (a late answer on a busy process would otherwise waste tokens).
        if (Number.isFinite(d.retryAfterMs)) this.o.overLimit.remember(key, now + d.retryAfterMs);
        return this.limited(route, limits, l.name, d);
      }
      if (!l.shadow) track(tightest, l.name, d);
    }
    return this.admit(limits, tightest);
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

  private admit(limits: RouteLimits, t: Tightest): LimitVerdict {
    return {
      outcome: 'admit',
      policy: limits.policy,
      rateLimit: t.decision && t.name !== undefined ? rateLimitHeader(t.name, t.decision) : undefined,
      retryAfterMs: 0,
      violated: [],
    };
  }

  private limited(route: string, limits: RouteLimits, name: string, d: RateDecision): LimitVerdict {
    this.o.metrics.limited.labels(route, name).inc();
    return {
      outcome: 'limited',
      policy: limits.policy,
      rateLimit: rateLimitHeader(name, d),
      retryAfterMs: d.retryAfterMs,
      violated: [name],
    };
  }
}

function track(t: Tightest, name: string, d: RateDecision): void {
  if (t.decision === undefined || d.remaining < t.decision.remaining) {
    t.name = name;
    t.decision = d;
  }
}
