import type { GatehouseError } from '../../core/index.js';
import type { LimiterStore, RateLimit } from '../../ratelimit/index.js';
import { FailureThrottle } from '../failure_throttle.js';

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
export class SignInThrottle extends FailureThrottle {
  constructor(store: LimiterStore, limits: SignInLimits, prefix = 'signin:') {
    super(store, prefix, 'ERR_IDENTITY_SIGN_IN_THROTTLED', {
      perAccount: limits.failedLoginPerAccount,
      perAddress: limits.failedLoginPerAddress,
    });
  }
}
