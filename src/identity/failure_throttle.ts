import { type ErrorCode, GatehouseError } from '../core/index.js';
import {
  addressKey,
  type Budget,
  Budgets,
  type LimiterStore,
  type RateLimit,
  retryAfterSeconds,
} from '../ratelimit/index.js';

/** The budgets of a {@link FailureThrottle}: failures tolerated per account, per source address and, when set, in total. */
export interface FailureLimits {
  perAccount: RateLimit;
  perAddress: RateLimit;
  total?: RateLimit;
}

/**
 * Wrong guesses at a secret a person types (a password, a device user code), limited per account, per source address
 * and optionally in total: `admit` checks the budgets (without spending them) before the secret is looked at, `failed`
 * spends from each. Keys (below `prefix`): `acct:<account>`, `addr:<address key>`, `all`. A refusal is the 429
 * GatehouseError `code`, with `retryAfterSeconds` (one emission interval of the empty budget, in whole seconds).
 *
 * @example
 * const throttle = new FailureThrottle(store, 'signin:', 'ERR_IDENTITY_SIGN_IN_THROTTLED', { perAccount, perAddress });
 * await throttle.admit(address, account);
 * if (!ok) await throttle.failed(address, account);
 */
export class FailureThrottle {
  private readonly budgets: Budgets;

  constructor(
    store: LimiterStore,
    prefix: string,
    code: ErrorCode,
    private readonly limits: FailureLimits,
  ) {
    this.budgets = new Budgets(store, prefix, ({ retryAfterMs }) =>
      Object.assign(new GatehouseError(code), { retryAfterSeconds: retryAfterSeconds(retryAfterMs) }),
    );
  }

  /** Checks the budgets of `account` and `address` (without spending them): throws when one is empty. */
  async admit(address: string, account: string): Promise<void> {
    await this.budgets.check(this.failures(address, account));
  }

  /** Records a failure of `account` from `address`. */
  async failed(address: string, account: string): Promise<void> {
    await this.budgets.spend(this.failures(address, account));
  }

  private failures(address: string, account: string): Budget[] {
    const { perAccount, perAddress, total } = this.limits;
    return [
      { name: 'account', key: `acct:${account}`, limit: perAccount },
      { name: 'address', key: `addr:${addressKey(address)}`, limit: perAddress },
      ...(total === undefined ? [] : [{ name: 'total', key: 'all', limit: total }]),
    ];
  }
}
