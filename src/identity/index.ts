export { INVALID_CLIENT_CHALLENGE, invalidClientAnswer, oauthError, oauthErrorResponse } from './oauth_error.js';
export type { OAuthErrorValue, OAuthErrorBody } from './oauth_error.js';
export { ApiRegistry, APIS_COLLECTION } from './apis/api_registry.js';
export { ApiCatalog } from './apis/api_catalog.js';
export { checkAudience, checkApiScopes, SCOPE_NAME } from './apis/api.js';
export type { Api, ApiScope } from './apis/api.js';
export { CLIENT_AUTH_METHODS, GRANT_TYPE_NAMES, clientView } from './clients/client.js';
export type { Client, ClientAuthMethod, ClientJwk, ClientRegistration, ClientSecretDigest } from './clients/client.js';
export { ClientRegistry, CLIENTS_COLLECTION } from './clients/client_registry.js';
export { ClientCache } from './clients/client_cache.js';
export { ClientSpiffeIndex } from './clients/client_spiffe_index.js';
export { checkRegistration } from './clients/client_rules.js';
export type { CheckedRegistration } from './clients/client_rules.js';
export { newClientSecret, clientSecretDigest, secretMatches, CLIENT_SECRET_PREFIX } from './clients/client_secret.js';
export {
  presentedCredentials,
  authenticateClient,
  isInvalidClient,
  JTI_COLLECTION,
  JWT_BEARER_ASSERTION,
} from './clients/client_auth.js';
export type { PresentedCredentials } from './clients/client_auth.js';
export { confirmationOf, certificateAuthenticates } from './clients/client_certificate.js';
export type { PresentedCertificate, CertificateConfirmation } from './clients/client_certificate.js';
export { AuthThrottle } from './clients/auth_throttle.js';
export type { AuthThrottleLimits, Throttled } from './clients/auth_throttle.js';
export { SigningKeys, SIGNING_KEYS_COLLECTION } from './signing_keys/signing_keys.js';
export type { SigningKeysOptions } from './signing_keys/signing_keys.js';
export type { SealedSecrets } from './signing_keys/ports.js';
export {
  signingKeyAt,
  publishedKeys,
  isRemovable,
  pendingKey,
  rotationDue,
  planRotation,
} from './signing_keys/timeline.js';
export type { SigningKeyMeta } from './signing_keys/timeline.js';
export { issueAccessToken } from './tokens/access_token.js';
export type { AccessTokenClaims, IssuedAccessToken } from './tokens/access_token.js';
export { IssuanceAudit } from './tokens/issuance_audit.js';
export type { IssuanceEvent } from './tokens/issuance_audit.js';
export type { Grant, GrantContext, TokenResponse } from './grants/grant.js';
export { clientCredentialsGrant, parseScope } from './grants/client_credentials.js';
export { parseTokenRequest } from './token_request.js';
export type { TokenRequestParams } from './token_request.js';
export { TokenEndpoint, corsHeaders } from './token_endpoint.js';
export type { TokenHttpRequest, TokenHttpResponse } from './token_endpoint.js';
export { authorizationServerMetadata, IDENTITY_PATHS } from './metadata.js';
export { checkUsername, checkPassword, checkRoles, usernameKey, userView } from './users/user.js';
export type { User } from './users/user.js';
export { PasswordHasher, parsePasswordHash } from './users/password_hasher.js';
export type { ScryptParameters } from './users/password_hasher.js';
export { SignInThrottle } from './users/sign_in_throttle.js';
export type { SignInLimits, SignInThrottled } from './users/sign_in_throttle.js';
export { UserRegistry, USERS_COLLECTION } from './users/user_registry.js';
export { SESSION_COOKIE, sessionCookie, sessionIdFromCookie } from './sessions/browser_session.js';
export type { BrowserSession } from './sessions/browser_session.js';
export { SessionStore, SESSIONS_COLLECTION } from './sessions/session_store.js';
export type { AccountCheck, NewSessionAdmission } from './sessions/session_store.js';
export { newSessionAdmission } from './sessions/new_session_throttle.js';
export type { NewSessionThrottled } from './sessions/new_session_throttle.js';
export {
  API_KEY_PREFIX as IDENTITY_API_KEY_PREFIX,
  API_KEY_LENGTH,
  newApiKey,
  isWellFormedApiKey,
  apiKeyDigest,
} from './api_keys/api_key_format.js';
export { checkApiKeyRequest, isApiKeyUsable, apiKeyView } from './api_keys/api_key.js';
export type { ApiKey, ApiKeyDigest, ApiKeyRequest } from './api_keys/api_key.js';
export { ApiKeyRegistry, API_KEYS_COLLECTION } from './api_keys/api_key_registry.js';
export type { ApiKeyRegistryOptions } from './api_keys/api_key_registry.js';
export { ApiKeyIndex } from './api_keys/api_key_index.js';
export { LastUsedRecorder, API_KEY_LAST_USED_COLLECTION } from './api_keys/last_used.js';
export { isRevocationItem } from './revocation/revocation_bus.js';
export type { RevocationBus, RevocationItem as IdentityRevocationItem } from './revocation/revocation_bus.js';
export {
  RevocationList,
  REVOCATIONS_COLLECTION,
  REVOCATION_SEQ_COLLECTION,
  isFeedCursor,
} from './revocation/revocation_list.js';
export type { RevocationListOptions } from './revocation/revocation_list.js';
export { RevocationEndpoint } from './revocation/revocation_endpoint.js';
export { RevocationFeedEndpoint, REVOCATION_FEED_SCOPE } from './revocation/feed_endpoint.js';
export { authenticatedCall, protocolErrorResponse } from './revocation/protocol_call.js';
export type { ProtocolDeps } from './revocation/protocol_call.js';
export { IntrospectionEndpoint, RESOURCE_SERVER_ROLE } from './introspection.js';
export { IssuedTokenCheck } from './introspection_tokens.js';
export { isS256Challenge, verifierMatches } from './authorize/pkce.js';
export {
  FORBIDDEN_REDIRECT_SCHEMES,
  formActionSource,
  matchRedirectUri,
  redirectWith,
} from './authorize/redirect_uri.js';
export {
  validateAuthorizationRequest,
  AuthorizeFailure,
  OFFLINE_ACCESS,
  apiScopesOf,
} from './authorize/authorization_request.js';
export type { AuthorizationRequest } from './authorize/authorization_request.js';
export { AuthorizationCodes, CODES_COLLECTION } from './authorize/authorization_codes.js';
export type { CodeGrant, CodeUse } from './authorize/authorization_codes.js';
export { ConsentStore, CONSENTS_COLLECTION } from './authorize/consents.js';
export type { Consent, ConsentedApi } from './authorize/consents.js';
export { ConnectedApps } from './authorize/connected_apps.js';
export type { ConnectedApp } from './authorize/connected_apps.js';
export { RefreshTokens } from './authorize/refresh_tokens.js';
export type { RefreshUse } from './authorize/refresh_tokens.js';
export {
  REFRESH_FAMILIES_COLLECTION,
  REFRESH_TOKENS_COLLECTION,
  REFRESH_REVOKED_COLLECTION,
  REFRESH_BY_USER_COLLECTION,
} from './authorize/refresh_records.js';
export type { RefreshFamily, IssuedAccess } from './authorize/refresh_records.js';
export { UserTokenIssuer } from './authorize/user_tokens.js';
export type { UserTokenSubject } from './authorize/user_tokens.js';
export { AuthorizationFlow } from './authorize/authorization_flow.js';
export type { AuthorizationFlowDeps, FlowOutcome } from './authorize/authorization_flow.js';
export { scopeWords } from './authorize/scope_words.js';
export type { ScopeWords } from './authorize/scope_words.js';
export { authorizationCodeGrant } from './grants/authorization_code.js';
export { refreshTokenGrant } from './grants/refresh_token.js';
export { CorsOrigins, preflightHeaders } from './authorize/cors_origins.js';
export { issueIdToken, atHash, ID_TOKEN_ALGS, ID_TOKEN_TTL_SECONDS } from './oidc/id_token.js';
export type { IdTokenAlg, IdTokenClaims } from './oidc/id_token.js';
export { OPENID, OIDC_SCOPES, OIDC_CLAIMS, OIDC_SCOPE_DESCRIPTIONS, scopedClaims } from './oidc/scopes.js';
export { UserinfoEndpoint } from './oidc/userinfo_endpoint.js';
export type { UserinfoRequest, UserinfoResponse } from './oidc/userinfo_endpoint.js';
export { withOpenIdConfiguration, OIDC_PATHS } from './oidc/discovery.js';
export { EndSession } from './oidc/end_session.js';
export type { EndSessionRequest } from './oidc/end_session.js';
export { idTokenHint } from './oidc/id_token_hint.js';
export type { IdTokenHint } from './oidc/id_token_hint.js';
export { deviceCodeGrant, DEVICE_CODE_GRANT } from './grants/device_code.js';
export {
  DeviceAuthorizations,
  DEVICE_CODES_COLLECTION,
  DEVICE_USER_CODES_COLLECTION,
} from './device/device_authorizations.js';
export type { DeviceAuthorization, DeviceApproval, DevicePoll } from './device/device_authorizations.js';
export { DeviceAuthorizationEndpoint, DEVICE_VERIFICATION_PATH } from './device/device_authorization_endpoint.js';
export { DeviceVerification } from './device/device_verification.js';
export type { DeviceOutcome } from './device/device_verification.js';
export { CodeEntryThrottle, attemptsWithin } from './device/code_entry_throttle.js';
export type { CodeEntryLimits, CodeEntryThrottled } from './device/code_entry_throttle.js';
export {
  USER_CODE_ALPHABET,
  MIN_USER_CODE_LENGTH,
  MAX_USER_CODE_LENGTH,
  GUESS_BOUND,
  guessProbability,
  harmonic,
  userCodeLength,
  newUserCode,
  normalizeUserCode,
  formatUserCode,
} from './device/user_code.js';
