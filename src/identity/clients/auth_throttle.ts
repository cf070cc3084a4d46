import {
  addressKey,
  emissionIntervalMs,
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

function throttled(retryAfterMs: number, what: string): Throttled {
  const err = oauthError('temporarily_unavailable', undefined, what) as unknown as Throttled;
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
  constructor(
    private readonly store: LimiterStore,
    private readonly limits: AuthThrottleLimits,
    private readonly prefix = 'identity:',
    /** Name of the per-address flood budget (each protected endpoint has its own; failure budgets are shared). */
    private readonly floodName = 'req',
  ) {}

  /** Spends one request from the address budget and checks both failure budgets (without spending them). */
  async admit(address: string, clientId: string | undefined): Promise<void> {
    const { tokenRequestsPerAddress, failedAuthPerAddress, failedAuthPerClient } = this.limits;
    const from = addressKey(address);
    const requests = [
      { key: `${this.prefix}${this.floodName}:${from}`, limit: tokenRequestsPerAddress, cost: 1 },
      { key: `${this.prefix}fail-addr:${from}`, limit: failedAuthPerAddress, cost: 0 },
      ...(clientId === undefined
        ? []
        : [{ key: `${this.prefix}fail-client:${clientId}`, limit: failedAuthPerClient, cost: 0 }]),
    ];
    const [flood, addr, client] = await this.store.consumeMany(requests);
    if (flood && !flood.allowed) throw throttled(flood.retryAfterMs, `${this.floodName} flood from one address`);
    if (addr && addr.remaining < 1)
      throw throttled(emissionIntervalMs(failedAuthPerAddress), 'failed auth per address');
    if (client && client.remaining < 1)
      throw throttled(emissionIntervalMs(failedAuthPerClient), 'failed auth per client');
  }

  /** Records a failed client authentication against the address and (when named) the client. */
  async failed(address: string, clientId: string | undefined): Promise<void> {
    await this.store.consumeMany([
      { key: `${this.prefix}fail-addr:${addressKey(address)}`, limit: this.limits.failedAuthPerAddress, cost: 1 },
      ...(clientId === undefined
        ? []
        : [{ key: `${this.prefix}fail-client:${clientId}`, limit: this.limits.failedAuthPerClient, cost: 1 }]),
    ]);
  }
}
