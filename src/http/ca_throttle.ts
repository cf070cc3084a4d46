import type { Config } from '../config/index.js';
import { GatehouseError } from '../core/index.js';
import { addressKey, emissionIntervalMs, type LimiterStore, retryAfterSeconds } from '../ratelimit/index.js';

/** The limits of {@link CaThrottle} (`pki.limits` in the config). */
export type CaLimits = Config['pki']['limits'];

/** A refusal of the CA listener: 429 `ERR_PKI_RATE_LIMITED` with the whole seconds for Retry-After. */
export type CaThrottled = GatehouseError & { retryAfterSeconds: number };

/** Which budget refused (in the log line and the private detail; never in the answer). */
export type CaLimitName =
  'sign_per_address' | 'failed_bootstrap_per_address' | 'renew_per_address' | 'renew_per_spiffe_id';

function throttled(limit: CaLimitName, retryAfterMs: number): CaThrottled {
  const err = new GatehouseError('ERR_PKI_RATE_LIMITED', { detail: `limit ${limit}` }) as CaThrottled;
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
  constructor(
    private readonly store: LimiterStore,
    private readonly limits: CaLimits,
    private readonly prefix = 'ca:',
  ) {}

  /** Spends one enrollment from the address budget and checks its failure budget (without spending it). */
  async admitSign(address: string): Promise<void> {
    const { signPerAddress, failedBootstrapPerAddress } = this.limits;
    const from = addressKey(address);
    const [failed, sign] = await this.store.consumeMany([
      { key: `${this.prefix}fail-addr:${from}`, limit: failedBootstrapPerAddress, cost: 0 },
      { key: `${this.prefix}sign-addr:${from}`, limit: signPerAddress, cost: 1 },
    ]);
    if (failed && failed.remaining < 1) {
      throw throttled('failed_bootstrap_per_address', emissionIntervalMs(failedBootstrapPerAddress));
    }
    if (sign && !sign.allowed) throw throttled('sign_per_address', sign.retryAfterMs);
  }

  /** Records a refused bootstrap credential from `address`. */
  async failedBootstrap(address: string): Promise<void> {
    await this.store.consume(
      `${this.prefix}fail-addr:${addressKey(address)}`,
      this.limits.failedBootstrapPerAddress,
      1,
    );
  }

  /** Spends one renewal from the address budget. */
  async admitRenew(address: string): Promise<void> {
    const decision = await this.store.consume(
      `${this.prefix}renew-addr:${addressKey(address)}`,
      this.limits.renewPerAddress,
      1,
    );
    if (!decision.allowed) throw throttled('renew_per_address', decision.retryAfterMs);
  }

  /** Spends one renewal from the budget of the SPIFFE ID the client certificate holds. */
  async admitRenewOf(spiffeId: string): Promise<void> {
    const decision = await this.store.consume(`${this.prefix}renew-id:${spiffeId}`, this.limits.renewPerSpiffeId, 1);
    if (!decision.allowed) throw throttled('renew_per_spiffe_id', decision.retryAfterMs);
  }
}
