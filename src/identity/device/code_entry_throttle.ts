import { GatehouseError } from '../../core/index.js';
import {
  addressKey,
  type Budget,
  Budgets,
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
  private readonly budgets: Budgets;

  constructor(
    store: LimiterStore,
    private readonly limits: CodeEntryLimits,
    prefix = 'device-entry:',
  ) {
    this.budgets = new Budgets(store, prefix);
  }

  async admit(address: string, account: string): Promise<void> {
    const refusal = await this.budgets.take(this.failures(address, account, 0));
    if (refusal === undefined) return;
    const err = new GatehouseError('ERR_IDENTITY_DEVICE_CODE_THROTTLED') as CodeEntryThrottled;
    err.retryAfterSeconds = retryAfterSeconds(refusal.retryAfterMs);
    throw err;
  }

  async failed(address: string, account: string): Promise<void> {
    await this.budgets.take(this.failures(address, account, 1));
  }

  private failures(address: string, account: string, cost: 0 | 1): Budget[] {
    return [
      { name: 'account', key: `acct:${account}`, limit: this.limits.failedEntryPerAccount, cost },
      { name: 'address', key: `addr:${addressKey(address)}`, limit: this.limits.failedEntryPerAddress, cost },
      { name: 'global', key: 'all', limit: this.limits.failedEntryGlobal, cost },
    ];
  }
}
