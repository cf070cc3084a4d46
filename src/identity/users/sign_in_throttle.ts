import { GatehouseError } from '../../core/index.js';
import {
  addressKey,
  emissionIntervalMs,
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
  constructor(
    private readonly store: LimiterStore,
    private readonly limits: SignInLimits,
    private readonly prefix = 'signin:',
  ) {}

  async admit(address: string, account: string): Promise<void> {
    const [acct, addr] = await this.store.consumeMany([
      { key: `${this.prefix}acct:${account}`, limit: this.limits.failedLoginPerAccount, cost: 0 },
      { key: `${this.prefix}addr:${addressKey(address)}`, limit: this.limits.failedLoginPerAddress, cost: 0 },
    ]);
    for (const [decision, limit] of [
      [acct, this.limits.failedLoginPerAccount],
      [addr, this.limits.failedLoginPerAddress],
    ] as const) {
      if (decision && decision.remaining < 1) {
        const err = new GatehouseError('ERR_IDENTITY_SIGN_IN_THROTTLED') as SignInThrottled;
        err.retryAfterSeconds = retryAfterSeconds(emissionIntervalMs(limit));
        throw err;
      }
    }
  }

  async failed(address: string, account: string): Promise<void> {
    await this.store.consumeMany([
      { key: `${this.prefix}acct:${account}`, limit: this.limits.failedLoginPerAccount, cost: 1 },
      { key: `${this.prefix}addr:${addressKey(address)}`, limit: this.limits.failedLoginPerAddress, cost: 1 },
    ]);
  }
}
