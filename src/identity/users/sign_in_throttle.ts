import { GatehouseError } from '../../core/index.js';
import {
  addressKey,
  type Budget,
  Budgets,
  type LimiterStore,
  type RateLimit,
  retryAfterSeconds,
} from '../../ratelimit/index.js';

/** Failed sign-ins tolerated per username and per source address. */
export interface SignInLimits {
  failedLoginPerAccount: RateLimit;
  failedLoginPerAddress: RateLimit;
}

/** A refusal with the seconds for Retry-After. */
export type SignInThrottled = GatehouseError & { retryAfterSeconds: number };

/**
 * Throttles password sign-in BEFORE any hashing: `admit` peeks at the per-account and per-address failure budgets
 * (unknown usernames have budgets too, so the answer does not reveal which exist); `failed` spends from both.
 *
 * @example
 * await throttle.admit(address, usernameKey(name));
 * if (!ok) await throttle.failed(address, usernameKey(name));
 */
export class SignInThrottle {
  private readonly budgets: Budgets;

  constructor(
    store: LimiterStore,
    private readonly limits: SignInLimits,
    prefix = 'signin:',
  ) {
    this.budgets = new Budgets(store, prefix);
  }

  async admit(address: string, account: string): Promise<void> {
    const refusal = await this.budgets.take(this.failures(address, account, 0));
    if (refusal === undefined) return;
    const err = new GatehouseError('ERR_IDENTITY_SIGN_IN_THROTTLED') as SignInThrottled;
    err.retryAfterSeconds = retryAfterSeconds(refusal.retryAfterMs);
    throw err;
  }

  async failed(address: string, account: string): Promise<void> {
    await this.budgets.take(this.failures(address, account, 1));
  }

  private failures(address: string, account: string, cost: 0 | 1): Budget[] {
    return [
      { name: 'account', key: `acct:${account}`, limit: this.limits.failedLoginPerAccount, cost },
      { name: 'address', key: `addr:${addressKey(address)}`, limit: this.limits.failedLoginPerAddress, cost },
    ];
  }
}
