import type { GatewayConfig, RouteConfig } from '../gateway_config.js';

/**
 * What a route's cached entries came from: its upstream's name and origins, its cache settings, and what the fills
 * sent (the path rewrite, the request header rules).
 */
function source(route: RouteConfig, config: GatewayConfig): string {
  const upstream = config.upstreams.find((u) => u.name === route.upstream);
  const canary = route.canary && config.upstreams.find((u) => u.name === route.canary?.upstream);
  return JSON.stringify([
    route.upstream,
    upstream?.hosts,
    upstream?.mtls,
    // A canary added, removed (a rollback) or pointed elsewhere: its side's entries, and the keys, change.
    route.canary?.upstream,
    canary?.hosts,
    canary?.mtls,
    route.cache,
    route.prefixRewrite,
    route.headers.request,
  ]);
}

/**
 * The routes whose cached entries a reload from `previous` to `next` makes wrong: routes that are gone, and routes whose
 * upstream (or canary upstream) is another one, whose upstream's (or canary's) hosts or `mtls` changed, whose `cache` settings changed, or whose fills
 * would be sent otherwise (`prefixRewrite`, `headers.request`). The entries of
 * the other routes stay (a reload that only touches limits or another route keeps the cache warm).
 *
 * @example
 * for (const route of routesToForget(running, next)) cache.dropRoute(route);
 */
export function routesToForget(previous: GatewayConfig, next: GatewayConfig): Set<string> {
  const forget = new Set<string>();
  for (const old of previous.routes) {
    const now = next.routes.find((r) => r.name === old.name);
    if (now === undefined || source(old, previous) !== source(now, next)) forget.add(old.name);
  }
  return forget;
}
