import { GatehouseError } from '../../core/index.js';
import { addressKey, type LimiterStore, type RateLimit, retryAfterSeconds } from '../../ratelimit/index.js';
import type { NewSessionAdmission } from './session_store.js';

/** A refusal with the seconds for Retry-After. */
export type NewSessionThrottled = GatehouseError & { retryAfterSeconds: number };

/**
 * Bounds the anonymous browser sessions one source address opens: every visit of a sign-in page without a session
 * cookie stores a session (its CSRF token), so without a bound a client that drops cookies could fill the record store.
 * Beyond `limit` the page answers 429 with Retry-After (`ERR_IDENTITY_SESSIONS_THROTTLED`).
 *
 * @example
 * const sessions = new SessionStore({ ..., admitNew: newSessionAdmission(limiter, { rate: 60, period: 60_000, burst: 60 }) });
 */
export function newSessionAdmission(
  store: LimiterStore,
  limit: RateLimit,
  prefix = 'session-new:',
): NewSessionAdmission {
  return async (address) => {
    const decision = await store.consume(`${prefix}${addressKey(address)}`, limit, 1);
    if (decision.allowed) return;
    const err = new GatehouseError('ERR_IDENTITY_SESSIONS_THROTTLED') as NewSessionThrottled;
    err.retryAfterSeconds = retryAfterSeconds(decision.retryAfterMs);
    throw err;
  };
}
