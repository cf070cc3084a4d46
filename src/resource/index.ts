export { createVerifier } from './verifier.js';
export type { Verifier } from './verifier.js';
export type { VerifierOptions, RevocationItem, RevocationSubscribe } from './verifier_options.js';
export type { Principal } from './principal.js';
export {
  CERTIFICATE_THUMBPRINT,
  boundThumbprint,
  checkCertificateBinding,
  peerCertificateThumbprint,
} from './certificate_binding.js';
export type { CertificateThumbprint, RequestBinding } from './certificate_binding.js';
export { principalFromClaims } from './principal.js';
export { requireScopes, InsufficientScopeError } from './requirements.js';
export type { Requirement } from './requirements.js';
export { API_KEY_PREFIX, API_KEY_LENGTH, MAX_API_KEY_LENGTH, isApiKey, isWellFormedApiKey } from './api_key.js';
export { extractCredential } from './credentials.js';
export type { Credential, HeaderBag } from './credentials.js';
export { ACCESS_TOKEN_TYPES, isAccessTokenType, checkAccessTokenClaims } from './access_token_claims.js';
export type { ClaimRules } from './access_token_claims.js';
export { JwksCache } from './jwks.js';
export type { JwksCacheOptions, JwksSource } from './jwks.js';
export type { IntrospectionEndpoint } from './introspection.js';
export { bearerChallenge } from './challenge.js';
export type { BearerChallenge } from './challenge.js';
export { fastifyVerifier } from './plugins/fastify.js';
export type { FastifyVerifierPlugin } from './plugins/fastify.js';
export { expressVerifier } from './plugins/express.js';
export type { ExpressLikeRequest, ExpressMiddleware } from './plugins/express.js';
export { nodeHttpVerifier } from './plugins/node_http.js';
export type { AuthorizedHandler } from './plugins/node_http.js';
export type { ResponseLike } from './plugins/respond.js';
