export type {
  CaRetryAfter,
  CertificateAuthorityClient,
  IssuedCertificate,
  SvidMaterial,
  TrustBundle,
  TokenBindingCheck,
} from './ports.js';
export { IdentitySource, caRetryAfterMs, renewalRetryDelayMs } from './identity_source.js';
export type { IdentitySourceOptions } from './identity_source.js';
export { newKeyAndCsr } from './key_pair.js';
export { ClientContexts, meshServerOptions, sessionLifetimeSeconds } from './tls_contexts.js';
export { PeerChecker, expectSpiffeId } from './peer_check.js';
export type { PeerCertificateFacts, PeerIdentity, PeerRejection, PeerVerdict } from './peer_check.js';
export { evaluatePolicies, matchesPattern } from './policy.js';
export type {
  AuthorizationPolicy,
  PolicyRule,
  PolicySource,
  PolicyOperation,
  PolicyRequest,
  PolicyDecision,
} from './policy.js';
export { CallerLimits, UpstreamBreakers } from './limits.js';
export type { UpstreamBreakerOptions } from './limits.js';
export {
  XFCC_HEADER,
  xfccValue,
  forwardHeaders,
  relayedTrailers,
  isTrailerField,
  sendProblem,
  refuseTunnel,
  wantsUpgrade,
  MESH_REQUEST_TIMEOUT_MS,
} from './http_forwarding.js';
export { offersWebSocket, declaresBody, upgradeResponse, switchingProtocolsHead } from './websocket_handshake.js';
export { MtlsListener } from './mtls_listener.js';
export type { MtlsMode, MtlsListenerOptions, ListenerStats } from './mtls_listener.js';
export { mtlsConnector, originConnector } from './connector.js';
export type { ConnectorStats, MtlsConnect } from './connector.js';
export { Inbound } from './inbound.js';
export type { InboundOptions, InboundStats } from './inbound.js';
export { Outbound } from './outbound.js';
export type { OutboundOptions, OutboundRequestStats } from './outbound.js';
export type { MeshUpstream } from './upstream_pools.js';
export { Sidecar } from './sidecar.js';
export { SidecarTunnels, DEFAULT_TUNNEL_SETTINGS } from './sidecar_tunnels.js';
export type { TunnelSettings, TunnelSide, TunnelStats } from './sidecar_tunnels.js';
export type { SidecarOptions, SidecarReload } from './sidecar.js';
export { sidecarMetricsText, type SidecarMetricsInput, type SidecarStats } from './sidecar_metrics.js';
export { createMtlsServer, createMtlsAgent } from './library.js';
export { MtlsAgent } from './mtls_agent.js';
export { AnswerExchange, grpcStatusAsHttp } from './answer_exchange.js';
export type { AttemptObserver, ExchangeOutcome, UpgradedExchange } from './answer_exchange.js';
export {
  RefusedStreamError,
  RetriableAnswer,
  RetryPolicy,
  type RetryCondition,
  type RetryReason,
  type RetrySettings,
} from './retry_policy.js';
export { Http2Origin, type Http2OriginOptions } from './http2_origin.js';
export { http1Headers } from './http2_fields.js';
export { bodyDeadline, bodyInactivity, type RefuseLate } from './http2_request_deadline.js';
export { declaredLength, ReplayableBody, REPLAY_LIMIT } from './replayable_body.js';
export { RequestAttempts, type AttemptHooks } from './request_attempts.js';
export { CONNECTION_SPECIFIC, http1View, withoutConnectionFields } from './http2_sessions.js';
