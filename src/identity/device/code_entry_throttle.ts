import { GatehouseError } from '../../core/index.js';
import {
  addressKey,
  emissionIntervalMs,
  type LimiterStore,
  type RateLimit,
  retryAfterSeconds,
} from '../../ratelimit/index.js';

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
export class CodeEntryThrottle {
  constructor(
    private readonly store: LimiterStore,
    private readonly limits: CodeEntryLimits,
    private readonly prefix = 'device-entry:',
  ) {}

  private requests(address: string, account: string, cost: number) {
    return [
      { key: `${this.prefix}acct:${account}`, limit: this.limits.failedEntryPerAccount, cost },
      { key: `${this.prefix}addr:${addressKey(address)}`, limit: this.limits.failedEntryPerAddress, cost },
      { key: `${this.prefix}all`, limit: this.limits.failedEntryGlobal, cost },
    ];
  }

  async admit(address: string, account: string): Promise<void> {
    const requests = this.requests(address, account, 0);
    const decisions = await this.store.consumeMany(requests);
    decisions.forEach((decision, i) => {
      const limit = (requests[i] as { limit: RateLimit }).limit;
      if (decision.remaining < 1) {
        const err = new GatehouseError('ERR_IDENTITY_DEVICE_CODE_THROTTLED') as CodeEntryThrottled;
        err.retryAfterSeconds = retryAfterSeconds(emissionIntervalMs(limit));
        throw err;
      }
    });
  }

  async failed(address: string, account: string): Promise<void> {
    await this.store.consumeMany(this.requests(address, account, 1));
  }
}
