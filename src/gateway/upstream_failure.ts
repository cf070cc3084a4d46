import { GatehouseError, upstreamFailureKind } from '../core/index.js';

/**
 * The gateway's error for an upstream exchange that failed: 504 ERR_GATEWAY_UPSTREAM_TIMEOUT for undici's timeouts,
 * else 502 ERR_GATEWAY_UPSTREAM_FAILED (the upstream's error code and message in the private detail, for the log: the
 * code says what kind of failure, the message why, e.g. which SVID check refused a mesh upstream).
 *
 * @example
 * throw upstreamFailure('orders', err);
 */
export function upstreamFailure(upstream: string, err: Error): GatehouseError {
  const code = (err as { code?: string }).code ?? '';
  const timedOut = upstreamFailureKind(err) === 'timeout';
  return new GatehouseError(timedOut ? 'ERR_GATEWAY_UPSTREAM_TIMEOUT' : 'ERR_GATEWAY_UPSTREAM_FAILED', {
    detail: `upstream ${upstream}: ${code && err.message ? `${code}: ${err.message}` : code || err.message}`,
  });
}
