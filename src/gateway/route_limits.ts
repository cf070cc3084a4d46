import { emissionIntervalUs, type RateLimit } from '../ratelimit/index.js';
import type { LimitConfig, LimitKeyPart } from './gateway_config.js';
import { LimitKeys } from './limit_key.js';
import { policyHeader } from './ratelimit_headers.js';

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
