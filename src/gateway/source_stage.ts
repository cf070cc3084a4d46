import { GatehouseError } from '../core/index.js';
import type { GatewayMetrics } from './gateway_metrics.js';
import type { RequestContext } from './pipeline.js';

/**
 * The source check, first in the `waf` slot and whatever the route's WAF mode: 403 ERR_GATEWAY_SOURCE_DENIED for a
 * client address the route's `sources` lists refuse, counted in `gatehouse_gateway_source_denied_total{route}`.
 *
 * @example
 * const sources = createSourceStage(metrics); // first in the waf slot: sources(ctx) throws to refuse
 */
export function createSourceStage(metrics: GatewayMetrics): (ctx: RequestContext) => void {
  return (ctx) => {
    const route = ctx.route!;
    if (route.sources === undefined || route.sources.admits(ctx.clientIp)) return;
    metrics.sourceDenied.labels(route.config.name).inc();
    // A body left unread is not drained (closeUnreadBodies closes the connection): say so, as WAF blocks do.
    if (!ctx.req.complete) ctx.res.shouldKeepAlive = false;
    throw new GatehouseError('ERR_GATEWAY_SOURCE_DENIED', { detail: `client address ${ctx.clientIp}` });
  };
}
