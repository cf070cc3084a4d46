import {
  addressKey,
  type Budget,
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
    this.budgets = new Budgets(store, prefix);
  }

  /** Spends one request from the address budget and checks both failure budgets (without spending them). */
  async admit(address: string, clientId: string | undefined): Promise<void> {
    const from = addressKey(address);
    const flood = `${this.floodName} flood from one address`;
    const refusal = await this.budgets.take([
      { name: flood, key: `${this.floodName}:${from}`, limit: this.limits.tokenRequestsPerAddress, cost: 1 },
      ...this.failures(from, clientId, 0),
    ]);
    if (refusal === undefined) return;
    const err = oauthError('temporarily_unavailable', undefined, refusal.budget) as unknown as Throttled;
    err.retryAfterSeconds = retryAfterSeconds(refusal.retryAfterMs);
    throw err;
  }

  /** Records a failed client authentication against the address and (when named) the client. */
  async failed(address: string, clientId: string | undefined): Promise<void> {
    await this.budgets.take(this.failures(addressKey(address), clientId, 1));
  }

  /** The failure budgets of a request from `from` (an address key) for `clientId` (when named). */
  private failures(from: string, clientId: string | undefined, cost: 0 | 1): Budget[] {
    const { failedAuthPerAddress, failedAuthPerClient } = this.limits;
    return [
      { name: 'failed auth per address', key: `fail-addr:${from}`, limit: failedAuthPerAddress, cost },
      ...(clientId === undefined
        ? []
        : [{ name: 'failed auth per client', key: `fail-client:${clientId}`, limit: failedAuthPerClient, cost }]),
    ];
  }
}
