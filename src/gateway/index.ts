export { upstreamConnector, checkUpstreamMtls, checkUpstreamMtlsHosts } from './upstream_mtls.js';
export type { UpstreamMesh } from './upstream_mtls.js';
export { Gateway } from './gateway.js';
export { strictTransportSecurity } from './strict_transport_security.js';
export { rewritePrefix } from './prefix_rewrite.js';
export type { GatewayOptions } from './gateway.js';
export { createGatewayServer } from './gateway_server.js';
export type { GatewayServer, GatewayServerOptions } from './gateway_server.js';
export type { GatewayConfig, RouteConfig, UpstreamConfig, LimitConfig, LimitKeyPart } from './gateway_config.js';
export { authorize, refuseAllAuthenticator } from './authenticator.js';
export type { Authenticator, GatewayPrincipal } from './authenticator.js';
export { ClientAddresses } from './client_address.js';
export { addressKey } from '../ratelimit/index.js';
export { RouteTable, hostOf } from './route_table.js';
export {
  upstreamRequestHeaders,
  clientResponseHeaders,
  credentialWithholding,
  IDENTITY_HEADER_PREFIX,
} from './forwarded_headers.js';
export type { WithheldCredentials } from './forwarded_headers.js';
export { GatewayLimiter } from './gateway_limiter.js';
export { compileLimits } from './route_limits.js';
export { Reservations } from './reservations.js';
export type { SleepTimer } from './reservations.js';
export type { ClientPresence } from './reservations.js';
export type { CompiledLimit, RouteLimits } from './route_limits.js';
export type { LimitVerdict } from './limit_verdict.js';
export { limitKey, LimitKeys } from './limit_key.js';
export type { LimitSubject } from './limit_key.js';
export { policyHeader, rateLimitHeader, retryAfterSeconds } from './ratelimit_headers.js';
export { Throttle } from './throttle.js';
export { OverLimitCache } from './over_limit_cache.js';
export { RedisGuard } from './redis_guard.js';
export { Bulkhead } from './bulkhead.js';
export { OutlierDetector } from './outlier_detector.js';
export type { OutlierOptions, HostHealth } from './outlier_detector.js';
export { Upstream } from './upstream.js';
export { gatewayTunnels } from './tunnels.js';
export { switchingProtocols } from './websocket_handshake.js';
export { createWebSocketStages } from './websocket_stages.js';
export type { WebSocketStageOptions } from './websocket_stages.js';
export { GatewayMetrics } from './gateway_metrics.js';
export type { AccessEntry } from './access_log.js';
export { STAGE_NAMES, buildPipeline, runPipeline, noopStage } from './pipeline.js';
export type { StageName, StageRun, Stage, RequestContext } from './pipeline.js';
export { sendProblem, isGrpcRequest, QUOTA_EXCEEDED, TEMPORARY_REDUCED_CAPACITY } from './problem_response.js';
export { inspectHead, inspectBody, inspectRequest, contentTypeAllowed } from './waf/waf_rules.js';
export type { WafConfig, WafRule, WafVerdict, WafHead, WafInput } from './waf/waf_rules.js';
export {
  looksLikeSqlInjection,
  looksLikeXss,
  looksLikeTraversal,
  pathTraverses,
  isScannerAgent,
} from './waf/signatures.js';
export { percentDecode, unescapeText, fullyDecode } from './waf/decode.js';
export { queryParams, bodyParams } from './waf/request_params.js';
export type { RequestParam } from './waf/request_params.js';
export { SlowClientGuard } from './slow_clients.js';
export type { SlowClientOptions } from './slow_clients.js';
export { ResponseCache, varyValues } from './cache/response_cache.js';
export type { CachedResponse, Freshness, ResponseCacheOptions } from './cache/response_cache.js';
export { parseCacheControl, storePolicy } from './cache/cache_control.js';
export type { CacheDirectives, StoreInput } from './cache/cache_control.js';
export { cacheKey, routeCacheKey, routeOfKey, UNKEYED_HEADERS } from './cache/cache_key.js';
export { routesToForget } from './cache/cache_reload.js';
export { createCacheStage, chainStages } from './cache/cache_stage.js';
export type { CacheStageOptions } from './cache/cache_stage.js';
export { createWafStages } from './waf/waf_stage.js';
export type { WafStages, WafStageOptions } from './waf/waf_stage.js';
