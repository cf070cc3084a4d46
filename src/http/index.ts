export { createHttpsServer } from './https_server.js';
export { platformRequestStats } from './request_metrics.js';
export type { HttpsServer, HttpsServerOptions, ClientAuthOptions } from './https_server.js';
export { registerCaRoutes, registerCaAdminRoutes } from './ca_routes.js';
export type { CaAdminOperations, CaRoutesOptions } from './ca_routes.js';
export { CaThrottle } from './ca_throttle.js';
export type { CaLimits, CaLimitName, CaThrottled } from './ca_throttle.js';
export { registerAdminRoutes } from './admin_routes.js';
export type { AdminOperations } from './admin_routes.js';
export { ADMIN_TOKEN_ACTOR, ADMIN_TOKEN_CALL, adminTokenOnly } from './admin_auth.js';
export type { AdminCall, AdminTokenCheck } from './admin_auth.js';
export { problemFor, toGatehouseError } from './problem.js';
export type { Problem } from './problem.js';
export { registerKmsRoutes } from './kms_routes.js';
export type { KmsRoutesOptions } from './kms_routes.js';
export { registerKmsStreamRoutes, contextFromQuery } from './kms_stream_routes.js';
export { kmsAudit } from './kms_audit.js';
export type { KmsAudit, KmsAuditEntry } from './kms_audit.js';
export type {
  KmsOperations,
  KmsAuthorizer,
  KmsContext,
  KmsCiphertext,
  KmsDataKey,
  KmsStreamHeader,
} from './kms_port.js';
export { registerIdentityRoutes, serveIdentityFormRoutes } from './identity_routes.js';
export type { IdentityRoutesOptions } from './identity_routes.js';
export { registerApiKeyAdminRoutes } from './identity_apikey_routes.js';
export type { ApiKeyAdminOperations } from './identity_apikey_routes.js';
export { registerIdentityPages } from './identity_pages.js';
export { pageCsp } from './page_response.js';
export type { IdentityPagesOptions } from './identity_pages.js';
export { registerIdentityDevicePages } from './identity_device_pages.js';
export type { IdentityDevicePagesOptions } from './identity_device_pages.js';
export { escapeHtml, SIGN_IN_CSS_PATH } from './identity_pages_views.js';
export { registerUserAdminRoutes } from './user_admin_routes.js';
export type { UserAdminOperations } from './user_admin_routes.js';
export { registerIdentityRevocationRoutes } from './identity_revocation_routes.js';
export type { IdentityRevocationRoutesOptions } from './identity_revocation_routes.js';
export { registerIdentityMtlsRoutes } from './identity_mtls_routes.js';
export type { IdentityMtlsRoutesOptions, ProtocolEndpoint } from './identity_mtls_routes.js';
export { registerIdentityAdminRoutes } from './identity_admin_routes.js';
export type { IdentityAdminOperations, ClientCreateBody } from './identity_admin_routes.js';
export { registerObjectRoutes } from './object_routes.js';
export type { ObjectOperations } from './object_routes.js';
export { registerBackupRoutes } from './backup_routes.js';
export type { BackupOperations } from './backup_routes.js';
export { registerMeshAdminRoutes } from './mesh_routes.js';
export type { MeshAdminOperations } from './mesh_routes.js';
