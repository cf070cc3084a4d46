import type { RateDecision } from '../ratelimit/index.js';
import type { GatewayMetrics } from './gateway_metrics.js';
import { rateLimitHeader } from './ratelimit_headers.js';
import type { RouteLimits } from './route_limits.js';

/** The rate-limit stage's answer. */
export interface LimitVerdict {
  /** `gone`: the client left while the request waited in a throttle queue or slept on a reservation (no answer). */
  outcome: 'admit' | 'limited' | 'unavailable' | 'gone';
  /** `RateLimit-Policy` and `RateLimit` values (undefined when the route has no limits or none decided). */
  policy: string | undefined;
  rateLimit: string | undefined;
  retryAfterMs: number;
  /** Names of the limits that refused. */
  violated: string[];
}

/** The enforced limit with the fewest requests left so far: the one the `RateLimit` header describes. */
export interface Tightest {
  name: string | undefined;
  decision: RateDecision | undefined;
}

/**
 * Notes an admitting decision of an enforced limit.
 *
 * @example
 * if (!l.shadow) track(tightest, l.name, decision);
 */
export function track(t: Tightest, name: string, d: RateDecision): void {
  if (t.decision === undefined || d.remaining < t.decision.remaining) {
    t.name = name;
    t.decision = d;
  }
}

/**
 * The verdict admitting a request, with the headers of its tightest limit.
 *
 * @example
 * return admitted(limits, tightest);
 */
export function admitted(limits: RouteLimits, t: Tightest): LimitVerdict {
  return {
    outcome: 'admit',
    policy: limits.policy,
    rateLimit: t.decision && t.name !== undefined ? rateLimitHeader(t.name, t.decision) : undefined,
    retryAfterMs: 0,
    violated: [],
  };
}

/**
 * The 429 verdict of limit `name` (counted in `limited_total`).
 *
 * @example
 * if (!d.allowed) return limited(metrics, route, limits, l.name, d);
 */
export function limited(
  metrics: GatewayMetrics,
  route: string,
  limits: RouteLimits,
  name: string,
  d: RateDecision,
): LimitVerdict {
  metrics.limited.labels(route, name).inc();
  return {
    outcome: 'limited',
    policy: limits.policy,
    rateLimit: rateLimitHeader(name, d),
    retryAfterMs: d.retryAfterMs,
    violated: [name],
  };
}

/**
 * The verdict of a request whose client left while it waited (a throttle queue or a reservation): nothing to answer.
 *
 * @example
 * if (!stayed) return gone(limits);
 */
export function gone(limits: RouteLimits): LimitVerdict {
  return { outcome: 'gone', policy: limits.policy, rateLimit: undefined, retryAfterMs: 0, violated: [] };
}
