import { GatehouseError } from '../core/index.js';
import type { GatewayLimiter } from './gateway_limiter.js';
import type { LimitVerdict } from './limit_verdict.js';
import type { RequestContext, StageRun } from './pipeline.js';
import { QUOTA_EXCEEDED, TEMPORARY_REDUCED_CAPACITY, sendProblem } from './problem_response.js';
import { retryAfterSeconds } from './ratelimit_headers.js';

/**
 * The `rate_limit` stage: the route's limits checked by the {@link GatewayLimiter} for the request's route, client
 * address and principal. An admitted request carries `RateLimit-Policy` and `RateLimit` on to its answer; a refused
 * one is answered here with a problem (429 ERR_RATE_LIMITED, or 503 ERR_GATEWAY_LIMITER_UNAVAILABLE when a global
 * limit fails closed) with those headers and `Retry-After`; a client that left while its request waited is logged as
 * 499. Synchronous unless the limiter's verdict is a promise (global limits, throttle waits).
 *
 * @example
 * const stages = buildPipeline({ ...runs, rate_limit: createRateLimitStage(limiter) });
 */
export function createRateLimitStage(limiter: GatewayLimiter): StageRun {
  return (ctx) => {
    const route = ctx.route!;
    const name = route.config.name;
    const verdict = limiter.check(
      name,
      route.limits,
      { route: name, clientIp: ctx.clientIp, principal: ctx.principal },
      ctx.res,
    );
    if (verdict instanceof Promise) return verdict.then((v) => applyVerdict(ctx, v));
    applyVerdict(ctx, verdict);
  };
}

/** The verdict on the request: headers for its answer, or the answer itself. */
function applyVerdict(ctx: RequestContext, v: LimitVerdict): void {
  if (v.policy === undefined) return;
  const headers: Record<string, string> = { 'ratelimit-policy': v.policy };
  if (v.rateLimit !== undefined) headers['ratelimit'] = v.rateLimit;
  if (v.outcome === 'admit') {
    // A CORS route's fields, set by the cors stage, stay.
    ctx.responseHeaders = ctx.responseHeaders === undefined ? headers : { ...ctx.responseHeaders, ...headers };
    return;
  }
  if (v.outcome === 'gone') {
    // The client left while its request slept on a reservation: nothing to answer; logged as nginx's 499.
    ctx.answered = true;
    ctx.res.statusCode = 499;
    return;
  }
  headers['retry-after'] = String(retryAfterSeconds(v.retryAfterMs));
  if (ctx.responseHeaders !== undefined) Object.assign(headers, ctx.responseHeaders);
  ctx.answered = true;
  const limited = v.outcome === 'limited';
  sendProblem(ctx, new GatehouseError(limited ? 'ERR_RATE_LIMITED' : 'ERR_GATEWAY_LIMITER_UNAVAILABLE'), {
    headers,
    type: limited ? QUOTA_EXCEEDED : TEMPORARY_REDUCED_CAPACITY,
    // `violated-policies` is the member draft-ietf-httpapi-ratelimit-headers-11 §5 defines; `violated_policies`
    // is the name gatehouse used before, kept for clients written against it.
    members: { 'violated-policies': v.violated, violated_policies: v.violated },
  });
}
