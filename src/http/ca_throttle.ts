import type { Config } from '../config/index.js';
import { GatehouseError } from '../core/index.js';
import {
  addressKey,
  type Budget,
  type BudgetRefusal,
  Budgets,
  type LimiterStore,
  retryAfterSeconds,
} from '../ratelimit/index.js';

/** The limits of {@link CaThrottle} (`pki.limits` in the config). */
export type CaLimits = Config['pki']['limits'];

/** A refusal of the CA listener: 429 `ERR_PKI_RATE_LIMITED` with the whole seconds for Retry-After. */
export type CaThrottled = GatehouseError & { retryAfterSeconds: number };

/** Which budget refused (in the log line and the private detail; never in the answer). */
export type CaLimitName =
  'sign_per_address' | 'failed_bootstrap_per_address' | 'renew_per_address' | 'renew_per_spiffe_id';

function throttled({ budget, retryAfterMs }: BudgetRefusal<CaLimitName>): CaThrottled {
  const err = new GatehouseError('ERR_PKI_RATE_LIMITED', { detail: `limit ${budget}` }) as CaThrottled;
  err.retryAfterSeconds = retryAfterSeconds(retryAfterMs, 60);
  return err;
}

/**
 * The CA listener's throttles, counted in the platform's limiter store under `ca:` keys: every enrollment spends from
 * a per-address budget, and refused bootstrap credentials from a tighter one that, once empty, refuses enrollments
 * from that address before any token is looked up (so guessing join tokens stays slow and a refused request never uses
 * up a good token); every renewal spends from a per-address budget and, once its client certificate is trusted, from a
 * per-SPIFFE-ID one. Refusals are {@link CaThrottled}.
 *
 * @example
 * await throttle.admitSign(address);               // before the body is parsed
 * await throttle.failedBootstrap(address);         // after a refused join token or access token
 * await throttle.admitRenew(address);              // before the client certificate is judged
 * await throttle.admitRenewOf(spiffeId);           // once it is
 */
export class CaThrottle {
  private readonly budgets: Budgets<CaLimitName>;

  constructor(
    store: LimiterStore,
    private readonly limits: CaLimits,
    prefix = 'ca:',
  ) {
    this.budgets = new Budgets(store, prefix, throttled);
  }

  /** Spends one enrollment from the address budget and checks its failure budget (without spending it). */
  async admitSign(address: string): Promise<void> {
    const from = addressKey(address);
    await this.budgets.admit([
      { ...this.failedBootstrapOf(from), cost: 0 },
      { name: 'sign_per_address', key: `sign-addr:${from}`, limit: this.limits.signPerAddress, cost: 1 },
    ]);
  }

  /** Records a refused bootstrap credential from `address`. */
  async failedBootstrap(address: string): Promise<void> {
    await this.budgets.spend([this.failedBootstrapOf(addressKey(address))]);
  }

  /** Spends one renewal from the address budget. */
  async admitRenew(address: string): Promise<void> {
    const key = `renew-addr:${addressKey(address)}`;
    await this.budgets.admit([{ name: 'renew_per_address', key, limit: this.limits.renewPerAddress, cost: 1 }]);
  }

  /** Spends one renewal from the budget of the SPIFFE ID the client certificate holds. */
  async admitRenewOf(spiffeId: string): Promise<void> {
    const key = `renew-id:${spiffeId}`;
    await this.budgets.admit([{ name: 'renew_per_spiffe_id', key, limit: this.limits.renewPerSpiffeId, cost: 1 }]);
  }

  private failedBootstrapOf(from: string): Budget<CaLimitName> {
    const limit = this.limits.failedBootstrapPerAddress;
    return { name: 'failed_bootstrap_per_address', key: `fail-addr:${from}`, limit };
  }
}
