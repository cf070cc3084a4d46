import {
  addressKey,
  type Budget,
  type BudgetRefusal,
  Budgets,
  type LimiterStore,
  type RateLimit,
  retryAfterSeconds,
} from '../../ratelimit/index.js';
import { oauthError } from '../oauth_error.js';

/** The limits of {@link AuthThrottle} (identity.limits.* in the config). */
export interface AuthThrottleLimits {
  failedAuthPerClient: RateLimit;
  failedAuthPerAddress: RateLimit;
  tokenRequestsPerAddress: RateLimit;
}

/** A throttle refusal: 429 `temporarily_unavailable`, with the seconds to put in Retry-After. */
export type Throttled = Error & { retryAfterSeconds: number };

function throttled({ budget, retryAfterMs }: BudgetRefusal): Throttled {
  const err = oauthError('temporarily_unavailable', undefined, budget) as unknown as Throttled;
  err.retryAfterSeconds = retryAfterSeconds(retryAfterMs);
  return err;
}

/**
 * Protects the token endpoint: every request spends from a per-address budget (flood guard); failed client
 * authentications spend from per-client and per-address budgets, and once either is empty, requests for that client or
 * from that address are refused with 429 before any credential is checked (so guessing stays slow).
 *
 * @example
 * await throttle.admit(address, clientId);          // before authenticating
 * await throttle.failed(address, clientId);         // after a failed authentication
 */
export class AuthThrottle {
  private readonly budgets: Budgets;

  constructor(
    store: LimiterStore,
    private readonly limits: AuthThrottleLimits,
    prefix = 'identity:',
    /** Name of the per-address flood budget (each protected endpoint has its own; failure budgets are shared). */
    private readonly floodName = 'req',
  ) {
    this.budgets = new Budgets(store, prefix, throttled);
  }

  /** Spends one request from the address budget and checks both failure budgets (without spending them). */
  async admit(address: string, clientId: string | undefined): Promise<void> {
    const from = addressKey(address);
    const name = `${this.floodName} flood from one address`;
    await this.budgets.admit([
      { name, key: `${this.floodName}:${from}`, limit: this.limits.tokenRequestsPerAddress, cost: 1 },
      ...this.failures(from, clientId).map((budget) => ({ ...budget, cost: 0 as const })),
    ]);
  }

  /** Records a failed client authentication against the address and (when named) the client. */
  async failed(address: string, clientId: string | undefined): Promise<void> {
    await this.budgets.spend(this.failures(addressKey(address), clientId));
  }

  /** The failure budgets of a request from `from` (an address key) for `clientId` (when named). */
  private failures(from: string, clientId: string | undefined): Budget[] {
    const { failedAuthPerAddress, failedAuthPerClient } = this.limits;
    return [
      { name: 'failed auth per address', key: `fail-addr:${from}`, limit: failedAuthPerAddress },
      ...(clientId === undefined
        ? []
        : [{ name: 'failed auth per client', key: `fail-client:${clientId}`, limit: failedAuthPerClient }]),
    ];
  }
}
