export { aeadEncrypt, aeadDecrypt, AEAD_ALGORITHMS, AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES } from './aead.js';
export type { AeadAlgorithm, AeadKey } from './aead.js';
export { secureRandomBytes, randomKey, randomNonce, randomToken, writeNonce, fillRandom } from './random.js';
export { sha256, sha256Hex, sha256Base64url } from './hash.js';
export type { HashInput } from './hash.js';
export { constantTimeEqual } from './compare.js';
export { hkdfSha256 } from './hkdf.js';

// TLS option builders (crypto/tls.ts)
export { serverTlsOptions, clientTlsOptions, handshakeFailureReason, TLS13_CIPHERSUITES } from './tls.js';
export { SessionTicketKeys } from './ticket_keys.js';
export type { TicketKeyHolder } from './ticket_keys.js';

// JWS / JWK with algorithms pinned per key (crypto/jws/)
export {
  JWS_ALGORITHMS,
  RSA_MIN_MODULUS_BITS,
  isJwsAlgorithm,
  assertKeyFitsAlgorithm,
  generateSigningKey,
  verificationKeyOf,
  exportSigningKey,
  importSigningKey,
  publicJwk,
  verificationKeyFromJwk,
  jwkThumbprint,
  MAX_KID_LENGTH,
  decodeJwt,
  MAX_JWT_LENGTH,
  signJwt,
  signJwtAsync,
  jwsSign,
  jwsSignAsync,
  verifyJwtSignature,
  jwsVerify,
  FORBIDDEN_HEADERS,
} from './jws/index.js';
export type {
  JwsAlgorithm,
  SigningKey,
  VerificationKey,
  GenerateSigningKeyOptions,
  PublicJwk,
  DecodedJwt,
  DecodeOptions,
  JwsHeader,
  JwtHeaderInput,
} from './jws/index.js';
