import { GatehouseError } from '../core/index.js';
import type { GatewayMetrics } from './gateway_metrics.js';
import type { StageRun } from './pipeline.js';
import { sendProblem } from './problem_response.js';

/**
 * The `cors` stage, after the WAF and before authentication (a preflight carries no credentials). On a route with a
 * CORS policy it answers preflights (OPTIONS with `Access-Control-Request-Method`) itself: 204 with the
 * `Access-Control-Allow-*` fields, or 403 ERR_GATEWAY_CORS_REFUSED naming the origin, method or header refused;
 * nothing reaches the upstream. Any other request goes on, its answer (proxied, cached or refused) to carry the CORS
 * fields when its origin is allowed. A request from an origin not allowed is not refused: the browser keeps its
 * answer from the page, as the Fetch standard has it.
 *
 * @example
 * const stages = buildPipeline({ ...runs, cors: createCorsStage(metrics) });
 */
export function createCorsStage(metrics: GatewayMetrics): StageRun {
  return (ctx) => {
    const route = ctx.route!;
    const policy = route.cors;
    if (policy === undefined) return;
    const headers = ctx.req.headers;
    const origin = headers.origin;
    const asked = headers['access-control-request-method'];
    if (ctx.req.method !== 'OPTIONS' || asked === undefined || origin === undefined) {
      ctx.responseHeaders = policy.answerHeaders(origin);
      return;
    }
    ctx.answered = true;
    const verdict = policy.preflight(origin, asked, headers['access-control-request-headers']);
    metrics.corsPreflights.labels(route.config.name, verdict.allowed ? 'allowed' : 'refused').inc();
    if (!verdict.allowed) {
      const refusal: Record<string, string> = {};
      if (policy.vary !== undefined) refusal['vary'] = policy.vary;
      sendProblem(ctx, new GatehouseError('ERR_GATEWAY_CORS_REFUSED', { detail: verdict.reason }), {
        headers: refusal,
        members: { detail: verdict.reason },
      });
      return;
    }
    ctx.res.writeHead(204, {
      ...verdict.headers,
      'x-request-id': ctx.requestId,
      ...(ctx.hsts === undefined ? undefined : { 'strict-transport-security': ctx.hsts }),
    });
    ctx.res.end();
  };
}
