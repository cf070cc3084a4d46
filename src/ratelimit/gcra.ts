import { GatehouseError } from '../core/index.js';
import type { RateDecision, RateLimit } from './ports.js';

/**
 * GCRA (generic cell rate algorithm; Tony Finch, "GCRA: leaky buckets without the buckets"): one number per key, the
 * theoretical arrival time (TAT). With emission interval `T = period / rate` and capacity `C = (burst + 1) · T`, a
 * request of cost `n` is admitted when `max(TAT, now) + n·T − now ≤ C`, and then `TAT = max(TAT, now) + n·T`.
 *
 * A reservation (`maxWait` W > 0, the global tier's throttle) also admits a request that conforms only later, when it
 * conforms within W: `max(TAT, now) + n·T − now ≤ C + W`. The TAT advances exactly as for an admission and the request
 * is told to wait `max(TAT, now) + n·T − C − now` (its `delayMs`), the time at which a plain request would have been
 * admitted: GCRA with a delay, so the admitted rate stays exact however the requests are spread over processes.
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
 * A reservation's longest wait in microseconds; throws ERR_CONFIG_INVALID unless `maxWaitMs` is an integer from 0 (no
 * reservation) to 31 years (the bound that keeps the arithmetic in safe integers).
 *
 * @example
 * waitMicros(500); // 500000
 */
export function waitMicros(maxWaitMs: number): number {
  if (!Number.isSafeInteger(maxWaitMs) || maxWaitMs < 0 || maxWaitMs * 1000 > MAX_CAPACITY_US) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: `invalid rate-limit maxWait ${maxWaitMs}: expected whole milliseconds from 0 to 31 years`,
    });
  }
  return maxWaitMs * 1000;
}

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

/** A limit's numbers as they were validated, and its emission interval. */
interface Validated {
  rate: number;
  period: number;
  burst: number;
  interval: number;
}

/**
 * {@link emissionIntervalUs} that remembers the limits it validated: each limit object once (in a WeakMap, so limits
 * dropped by a reload go with it), checked by value on every use (a limit changed in place is validated again), and
 * the last numbers first, without a lookup (one limit, or one rebuilt with the same numbers, costs three compares).
 * A hot path deciding against the same few limits validates each once. Validating on every decision was about a
 * fifth of an in-process decision (25 of 125 ns, bench/suites/gateway_limiter).
 *
 * @example
 * const intervals = new LimitIntervals();
 * decideMicros(tat, now, intervals.of(limit), limit.burst, validCost(cost));
 */
export class LimitIntervals {
  private readonly known = new WeakMap<RateLimit, Validated>();
  // NaN equals nothing, so the first call looks the limit up.
  private last: Validated = { rate: Number.NaN, period: Number.NaN, burst: Number.NaN, interval: 0 };

  of(limit: RateLimit): number {
    const last = this.last;
    // The same numbers as the last limit: the same interval, whatever the object.
    if (limit.rate === last.rate && limit.period === last.period && limit.burst === last.burst) return last.interval;
    let v = this.known.get(limit);
    if (v === undefined || v.rate !== limit.rate || v.period !== limit.period || v.burst !== limit.burst) {
      // Throws on a malformed limit, remembering nothing.
      v = { rate: limit.rate, period: limit.period, burst: limit.burst, interval: emissionIntervalUs(limit) };
      this.known.set(limit, v);
    }
    this.last = v;
    return v.interval;
  }
}

/**
 * A decision's cost, checked: an integer ≥ 0 (0 peeks), else ERR_CONFIG_INVALID.
 *
 * @example
 * validCost(1); // 1
 */
export function validCost(cost: number): number {
  if (!Number.isSafeInteger(cost) || cost < 0) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      message: `invalid rate-limit cost ${cost}: expected an integer ≥ 0`,
    });
  }
  return cost;
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
 * Clock's reading in milliseconds, `maxWaitMs` the longest delay a reservation may hand out (0: none). Pure: the
 * caller stores the returned `tat`.
 *
 * @example
 * const limit = { rate: 10, period: 1000, burst: 5 };
 * const d = decide(undefined, clock.now(), limit); // { allowed: true, remaining: 5, retryAfterMs: 0, ... }
 * state.set(key, d.tat);
 */
export function decide(
  tat: number | undefined,
  nowMs: number,
  limit: RateLimit,
  cost = 1,
  maxWaitMs = 0,
): GcraDecision {
  const checked = validCost(cost);
  const wait = maxWaitMs === 0 ? 0 : waitMicros(maxWaitMs);
  return decideMicros(tat, toMicros(nowMs), emissionIntervalUs(limit), limit.burst, checked, wait);
}

/**
 * {@link decide} in integer microseconds on an already validated emission interval, burst, cost and wait (no checks):
 * for stores that decided elsewhere and rebuild the decision from the TAT (src/adapters/redis/limiter_store.ts).
 * The Lua script in src/adapters/redis/gcra_script.ts mirrors this arithmetic line for line: change both together.
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
  wait = 0,
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
  if (!never && next - now <= capacity + wait) {
    // A reservation: admitted when it conforms, next − capacity, within the wait (whole ms: never early).
    return {
      allowed: true,
      tat: next,
      remaining: 0,
      retryAfterMs: 0,
      resetAfterMs: ceilMs(next - now),
      delayMs: ceilMs(next - capacity - now),
    };
  }
  return {
    allowed: false,
    tat: base,
    // Below 0 only while reservations hold the TAT beyond the capacity: nothing is left.
    remaining: Math.max(0, Math.floor((capacity - (base - now)) / interval)),
    retryAfterMs: never ? Number.POSITIVE_INFINITY : ceilMs(next - capacity - now),
    resetAfterMs: ceilMs(base - now),
  };
}
