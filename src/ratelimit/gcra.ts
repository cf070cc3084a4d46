import { GatehouseError } from '../core/index.js';
import type { RateDecision, RateLimit } from './ports.js';

/**
 * GCRA (generic cell rate algorithm; Tony Finch, "GCRA: leaky buckets without the buckets"): one number per key, the
 * theoretical arrival time (TAT). With emission interval `T = period / rate` and capacity `C = (burst + 1) · T`, a
 * request of cost `n` is admitted when `max(TAT, now) + n·T − now ≤ C`, and then `TAT = max(TAT, now) + n·T`.
 *
 * Exact arithmetic: times are integer microseconds (safe as JS numbers until the year 2255), and `T` is
 * `period · 1000 / rate` microseconds, rounded UP when it is not whole. Rounding up means the effective rate is never
 * above the configured one, and below it by less than 1 µs per request (3 per second admits one every 333 334 µs).
 * No floating-point value is ever accumulated, so decisions do not drift.
 */

/** A decision together with the key's new state. */
export interface GcraDecision extends RateDecision {
  /** The new TAT in integer microseconds since the epoch (unchanged when rejected). Store it as a plain number. */
  tat: number;
}

/** Bound on `(burst + 1) · T` (about 31 years), which keeps every intermediate value a safe integer. */
const MAX_CAPACITY_US = 1e15;

/**
 * The emission interval of a limit in whole microseconds (rounded up); throws ERR_CONFIG_INVALID on a malformed limit.
 *
 * @example
 * emissionIntervalUs({ rate: 3, period: 1000, burst: 0 }); // 333334
 */
export function emissionIntervalUs(limit: RateLimit): number {
  const { rate, period, burst } = limit;
  const ok =
    Number.isSafeInteger(rate) &&
    rate >= 1 &&
    Number.isSafeInteger(period) &&
    period >= 1 &&
    period * 1000 <= MAX_CAPACITY_US;
  if (!ok || !Number.isSafeInteger(burst) || burst < 0) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: `invalid rate limit {rate: ${rate}, period: ${period}, burst: ${burst}}: rate and period must be positive integers, burst a non-negative integer`,
    });
  }
  const span = period * 1000;
  const whole = Math.floor(span / rate);
  const interval = whole * rate < span ? whole + 1 : whole;
  if ((burst + 1) * interval > MAX_CAPACITY_US) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: `invalid rate limit {rate: ${rate}, period: ${period}, burst: ${burst}}: (burst + 1) · period / rate exceeds 31 years`,
    });
  }
  return interval;
}

/**
 * Converts a Clock reading (milliseconds, possibly fractional) to integer microseconds.
 *
 * @example
 * toMicros(1.5); // 1500
 */
export function toMicros(nowMs: number): number {
  return Math.round(nowMs * 1000);
}

/**
 * True when a stored TAT is at or before `now` (ms): such a key decides exactly like an absent one, so it may be
 * forgotten at no cost.
 *
 * @example
 * if (isIdle(tat, clock.now())) map.delete(key);
 */
export function isIdle(tat: number | undefined, nowMs: number): boolean {
  return tat === undefined || tat <= toMicros(nowMs);
}

/** Microseconds → whole milliseconds, rounded up (a wait of that many ms always suffices). */
function ceilMs(us: number): number {
  return us <= 0 ? 0 : Math.ceil(us / 1000);
}

/**
 * One GCRA decision. `tat` is the key's stored state (integer microseconds, `undefined` for a fresh key), `nowMs` the
 * Clock's reading in milliseconds. Pure: the caller stores the returned `tat`.
 *
 * @example
 * const limit = { rate: 10, period: 1000, burst: 5 };
 * const d = decide(undefined, clock.now(), limit); // { allowed: true, remaining: 5, retryAfterMs: 0, ... }
 * state.set(key, d.tat);
 */
export function decide(tat: number | undefined, nowMs: number, limit: RateLimit, cost = 1): GcraDecision {
  if (!Number.isSafeInteger(cost) || cost < 0) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: `invalid rate-limit cost ${cost}: expected an integer ≥ 0`,
    });
  }
  return decideMicros(tat, toMicros(nowMs), emissionIntervalUs(limit), limit.burst, cost);
}

/**
 * {@link decide} in integer microseconds on an already validated emission interval, burst and cost (no checks):
 * for stores that decided elsewhere and rebuild the decision from the TAT (src/adapters/redis/limiter_store.ts).
 *
 * @example
 * const d = decideMicros(tatUs, nowUs, emissionIntervalUs(limit), limit.burst, 1);
 */
export function decideMicros(
  tat: number | undefined,
  now: number,
  interval: number,
  burst: number,
  cost: number,
): GcraDecision {
  const capacity = (burst + 1) * interval;
  const base = tat === undefined || tat < now ? now : tat;
  // cost > burst + 1 can never be admitted; deciding it first also keeps cost · T a safe integer.
  const never = cost > burst + 1;
  const next = never ? base : base + cost * interval;
  if (!never && next - now <= capacity) {
    return {
      allowed: true,
      tat: next,
      remaining: Math.floor((capacity - (next - now)) / interval),
      retryAfterMs: 0,
      resetAfterMs: ceilMs(next - now),
    };
  }
  return {
    allowed: false,
    tat: base,
    remaining: Math.floor((capacity - (base - now)) / interval),
    retryAfterMs: never ? Number.POSITIVE_INFINITY : ceilMs(next - capacity - now),
    resetAfterMs: ceilMs(base - now),
  };
}
