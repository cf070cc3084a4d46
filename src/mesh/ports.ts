import type { RevokedIdentity } from '../pki/index.js';

/** A certificate the CA signed for this workload (the private key stayed here). */
export interface IssuedCertificate {
  spiffeId: string;
  /** PEM: the leaf, then the intermediate that signed it. */
  chainPem: string;
  serialNumber: string;
  notBefore: number;
  notAfter: number;
}

/** The trust bundle: CA certificates as PEM, the SPIFFE bundle sequence and how often to refetch it. */
export interface TrustBundle {
  pem: string;
  sequence: number;
  refreshHintMs: number;
}

/** What the mesh needs from its SVID as held in memory (see {@link IdentitySource}). */
export interface SvidMaterial {
  spiffeId: string;
  chainPem: string;
  /** PKCS#8 PEM; never logged. */
  keyPem: string;
  serialNumber: string;
  notBefore: number;
  notAfter: number;
  /** When this process received it (renewal counts from here, not from the backdated notBefore). */
  issuedAt: number;
  /** Grows by one with every certificate installed. */
  generation: number;
}

/** What a {@link CertificateAuthorityClient} refusal carries when the CA said when to try again. */
export interface CaRetryAfter {
  /** Whole seconds (the CA's Retry-After). */
  retryAfterSeconds: number;
}

/**
 * The port to the certificate authority: implemented with undici against the CA listener (POST /v1/ca/sign,
 * POST /v1/ca/renew over mTLS, GET /v1/ca/bundle.pem, GET /v1/ca/denylist) and in process on an Authority for
 * `gatehouse up` and tests (src/app/mesh_ca_client.ts). A refusal that says when to try again (the CA's rate limits,
 * 429 `ERR_PKI_RATE_LIMITED` with Retry-After) is thrown with `retryAfterSeconds` ({@link CaRetryAfter}).
 *
 * @example
 * const issued = await client.sign(csrPem, joinToken);
 * const renewed = await client.renew(nextCsrPem, current);
 */
export interface CertificateAuthorityClient {
  /**
   * Signs the first SVID for a bootstrap credential (a one-time join token). With `spiffeId` the CA refuses, without
   * using the token up, a token bound to another ID.
   */
  sign(csrPem: string, credential: string, spiffeId?: string): Promise<IssuedCertificate>;
  /** Renews: the caller proves `current` (over mTLS with it) and sends a CSR for a new key. */
  renew(csrPem: string, current: SvidMaterial): Promise<IssuedCertificate>;
  bundle(): Promise<TrustBundle>;
  /** The revoked identities (passive revocation by SPIFFE ID). */
  denyList(): Promise<RevokedIdentity[]>;
}

/**
 * The token-binding check of the inbound side (opt-in `bindTokens`, RFC 8705 §3): given a request's Bearer token and
 * the caller's client certificate thumbprint (base64url SHA-256 of the leaf DER, the `x5t#S256` form; undefined on a
 * plaintext PERMISSIVE connection), true lets the request through and false refuses it (401 invalid_token). Unbound
 * tokens and credentials that are not JWTs pass: the app's own verifier still decides about them. app/compose.ts
 * implements it with the resource verifier's binding rule.
 *
 * @example
 * const pass = await check(bearerToken, peer?.fingerprint);
 */
export type TokenBindingCheck = (token: string, thumbprint: string | undefined) => boolean | Promise<boolean>;
