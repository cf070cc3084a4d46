import type { Config } from '../config/index.js';

/** The validated `gateway` section of the configuration. */
export type GatewayConfig = Config['gateway'];
/** One route of {@link GatewayConfig}. */
export type RouteConfig = GatewayConfig['routes'][number];
/** One upstream of {@link GatewayConfig}. */
export type UpstreamConfig = GatewayConfig['upstreams'][number];
/** One rate limit of a route. */
export type LimitConfig = RouteConfig['limits'][number];
/** One part of a rate-limit key. */
export type LimitKeyPart = LimitConfig['key'][number];
