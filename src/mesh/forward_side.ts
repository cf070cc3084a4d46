import type { ServerResponse } from 'node:http';
import type { Pool } from 'undici';
import type { Logger } from '../core/index.js';
import type { BreakerPermit } from '../ratelimit/index.js';
import type { Http2Origin } from './http2_origin.js';
import type { RetryPolicy, RetryReason } from './retry_policy.js';
import type { UpstreamPool } from './upstream_pools.js';

/**
 * What the outbound side lends its forwarding loop (outbound_exchange.ts): its counters, retry budget,
 * backoff and failure answers.
 */
export interface ForwardSide {
  logger: Logger;
  requests: { forwarded: number; failed: number };
  /**
   * A place in the upstream's retry budget on `policy` (the one the request started under: a reload may have put a new
   * one on the entry since, and places go back to the policy they were taken from), or the overflow counted.
   */
  reserveRetry(entry: UpstreamPool, policy: RetryPolicy): boolean;
  /** The upstream's pool in force for a retry, or undefined after answering the app. */
  retryPool(name: string, http2: boolean, permit: BreakerPermit, res: ServerResponse): Pool | Http2Origin | undefined;
  /** Counts the retry and waits its backoff: false when the app left meanwhile. */
  backoff(
    entry: UpstreamPool,
    name: string,
    reason: RetryReason,
    attempt: number,
    res: ServerResponse,
  ): Promise<boolean>;
  /** An exchange that failed before any answer: the breaker told, 504 or 502 to the app. */
  failed(err: unknown, name: string, timeout: number, permit: BreakerPermit, res: ServerResponse): void;
}
