// How a proxy reads the error of an upstream exchange that failed (undici's error codes), shared by the gateway and
// the sidecar so that both answer a timeout the same way.

/** undici's timeouts: connecting, waiting for the response headers, waiting between body chunks. */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
/** undici refused to send the request as given (nothing reached the upstream): says nothing of the upstream's health. */
const REFUSED_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);

/**
 * What an upstream exchange's error means: `timeout` (the upstream did not connect, answer or send the next body
 * chunk in time: a 504 and a breaker failure), `refused` (the request was never sent: a 502 that is no breaker
 * failure) or `failed` (unreachable, reset, refused identity: a 502 and a breaker failure).
 *
 * @example
 * if (upstreamFailureKind(err) === 'timeout') sendProblem(res, 'ERR_MESH_UPSTREAM_TIMEOUT');
 */
export function upstreamFailureKind(err: unknown): 'timeout' | 'refused' | 'failed' {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return 'failed';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  return REFUSED_CODES.has(code) ? 'refused' : 'failed';
}
