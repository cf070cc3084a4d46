import { GatehouseError, normalizeRequestTarget, randomId, REQUEST_TARGET_RULE } from '../core/index.js';
import { wantsUpgrade } from '../mesh/index.js';
import type { GatewayState } from './gateway_state.js';
import type { GatewayMetrics } from './gateway_metrics.js';
import type { Upstream } from './upstream.js';
import type { RequestContext } from './pipeline.js';
import { rewritePrefix } from './prefix_rewrite.js';
import { hostOf, repeatsHost } from './route_table.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Request id, client address and route (every request, upgrades included), from the configuration generation
 * `state`: the client address through trusted proxies, the caller's `X-Request-Id` kept only from a trusted peer, the
 * normalized request target (400 when it cannot be), one Host field (400 otherwise), the route its host and path
 * match (404 when none) and the target sent upstream after the route's `prefixRewrite`.
 *
 * @example
 * routeRequest(ctx, state); // ctx.requestId, ctx.clientIp, ctx.route, ctx.upstreamTarget set
 */
export function routeRequest(ctx: RequestContext, state: GatewayState): void {
  const { req } = ctx;
  const peer = req.socket.remoteAddress ?? '';
  const trusted = state.addresses.isTrusted(peer);
  ctx.trustedPeer = trusted ? peer : undefined;
  ctx.clientIp = state.addresses.resolve(peer, req.headers['x-forwarded-for']);
  const sent = req.headers['x-request-id'];
  ctx.requestId = trusted && typeof sent === 'string' && REQUEST_ID.test(sent) ? sent : randomId(12);
  const target = normalizeRequestTarget(req.url ?? '/');
  if (target === undefined) {
    throw new GatehouseError('ERR_HTTP_BAD_REQUEST', { message: REQUEST_TARGET_RULE });
  }
  ctx.target = target;
  if (repeatsHost(req.rawHeaders)) {
    throw new GatehouseError('ERR_HTTP_BAD_REQUEST', { message: 'a request must carry exactly one Host field' });
  }
  const q = target.indexOf('?');
  const entry = state.table.match(hostOf(req.headers.host), q === -1 ? target : target.slice(0, q));
  if (!entry) throw new GatehouseError('ERR_HTTP_NOT_FOUND');
  ctx.route = entry.value;
  const { prefixRewrite, pathPrefix } = entry.value.config;
  ctx.upstreamTarget = prefixRewrite === undefined ? target : rewritePrefix(target, pathPrefix, prefixRewrite);
}

/**
 * The `request_id` stage of a plain request: {@link routeRequest}, then 501 ERR_GATEWAY_UPGRADE_UNSUPPORTED for a
 * protocol switch that arrived without `Connection: upgrade` (the server's `upgrade` event takes the others): it would
 * reach the upstream as a plain request without its hop-by-hop Upgrade.
 *
 * @example
 * const runs = { request_id: (ctx: RequestContext) => routePlainRequest(ctx, this.state), ... };
 */
export function routePlainRequest(ctx: RequestContext, state: GatewayState): void {
  routeRequest(ctx, state);
  if (ctx.req.headers.upgrade !== undefined && wantsUpgrade(ctx.req)) {
    throw new GatehouseError('ERR_GATEWAY_UPGRADE_UNSUPPORTED');
  }
}

/**
 * The upstream a request goes to: its route's, or the route's canary (drawn once per request, on first use: after
 * authentication, which `hashOn: client` needs), counted in `canary_routed_total`.
 */
export function upstreamOf(ctx: RequestContext, metrics: GatewayMetrics): Upstream {
  if (ctx.upstream !== undefined) return ctx.upstream;
  const route = ctx.route!;
  const canary = route.canary;
  const chosen =
    canary === undefined ? route.upstream : canary.choose(route.upstream, ctx.req.headers, ctx.principal, ctx.clientIp);
  if (canary !== undefined) metrics.canaryRouted.labels(route.config.name, chosen.name).inc();
  ctx.upstream = chosen;
  return chosen;
}
