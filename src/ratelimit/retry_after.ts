import type { RateLimit } from './ports.js';

/**
 * `Retry-After` delay-seconds (RFC 9110 §10.2.3) for a wait in milliseconds: whole seconds, rounded up, at least 1;
 * a wait that never ends (a limit that can never admit the request) gives `never` seconds (an hour).
 *
 * @example
 * retryAfterSeconds(1200); // 2
 */
export function retryAfterSeconds(ms: number, never = 3600): number {
  return Number.isFinite(ms) ? Math.max(1, Math.ceil(ms / 1000)) : never;
}

/**
 * One emission interval of a limit, in milliseconds: how long a budget that is just empty takes to admit one more
 * (the wait of a refusal decided on a peek, at cost 0, that has no retry time of its own).
 *
 * @example
 * emissionIntervalMs({ rate: 10, period: 60_000, burst: 10 }); // 6000
 */
export function emissionIntervalMs(limit: RateLimit): number {
  return Math.ceil(limit.period / limit.rate);
}
