import type { GatehouseError } from '../../core/index.js';
import type { LimiterStore, RateLimit } from '../../ratelimit/index.js';
import { FailureThrottle } from '../failure_throttle.js';

/** Failed user code entries tolerated per account, per source address and in total. */
export interface CodeEntryLimits {
  failedEntryPerAccount: RateLimit;
  failedEntryPerAddress: RateLimit;
  failedEntryGlobal: RateLimit;
}

/** A refusal with the seconds for Retry-After. */
export type CodeEntryThrottled = GatehouseError & { retryAfterSeconds: number };

/**
 * How many wrong entries the limits admit in total during `windowMs` (one code lifetime): the global budget's
 * `burst + 1` at once plus `rate` per `period`. This is the `A` of the guessing bound.
 *
 * @example
 * attemptsWithin({ rate: 60, period: 60_000, burst: 60 }, 600_000); // 661
 */
export function attemptsWithin(limit: RateLimit, windowMs: number): number {
  return limit.burst + 1 + Math.ceil((limit.rate * windowMs) / limit.period);
}

/**
 * Limits wrong user code entries on the device page (RFC 8628 §5.1): `admit` peeks at the per-account, per-address and
 * global failure budgets before the code is looked up; `failed` spends from all three.
 *
 * @example
 * await throttle.admit(address, account);
 * if (!found) await throttle.failed(address, account);
 */
export class CodeEntryThrottle extends FailureThrottle {
  constructor(store: LimiterStore, limits: CodeEntryLimits, prefix = 'device-entry:') {
    super(store, prefix, 'ERR_IDENTITY_DEVICE_CODE_THROTTLED', {
      perAccount: limits.failedEntryPerAccount,
      perAddress: limits.failedEntryPerAddress,
      total: limits.failedEntryGlobal,
    });
  }
}
