import { GatehouseError, upstreamFailureKind } from '../core/index.js';

/**
 * The gateway's error for an upstream exchange that failed: 504 ERR_GATEWAY_UPSTREAM_TIMEOUT for undici's timeouts,
 * else 502 ERR_GATEWAY_UPSTREAM_FAILED (the upstream's error code only in the private detail).
 *
 * @example
 * throw upstreamFailure('orders', err);
 */
export function upstreamFailure(upstream: string, err: Error): GatehouseError {
  const code = (err as { code?: string }).code ?? '';
  const timedOut = upstreamFailureKind(err) === 'timeout';
  return new GatehouseError(timedOut ? 'ERR_GATEWAY_UPSTREAM_TIMEOUT' : 'ERR_GATEWAY_UPSTREAM_FAILED', {
    detail: `upstream ${upstream}: ${code || err.message}`,
  });
}
