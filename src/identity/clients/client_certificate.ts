import { constantTimeEqual } from '../../crypto/index.js';
import type { Client } from './client.js';

/**
 * The client certificate of the connection a request came on, as the mTLS listener established it: the chain
 * verified against the platform trust bundle, the SVID rules, the deny list and the validity checked by the listener
 * (identity never sees a certificate that failed them).
 */
export interface PresentedCertificate {
  /** base64url(SHA-256(leaf DER)): the RFC 8705 `x5t#S256` value. */
  thumbprint: string;
  /** The certificate's URI SAN (an X.509-SVID has exactly one: its SPIFFE ID). */
  sanUri: string;
}

/** The RFC 7800 `cnf` claim of a certificate-bound access token (RFC 8705 §3.1). */
export interface CertificateConfirmation {
  'x5t#S256': string;
}

/**
 * The `cnf` claim binding a token to `certificate`, or undefined without a certificate (a bearer token).
 *
 * @example
 * const cnf = confirmationOf(request.certificate); // { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' }
 */
export function confirmationOf(certificate: PresentedCertificate | undefined): CertificateConfirmation | undefined {
  return certificate === undefined ? undefined : { 'x5t#S256': certificate.thumbprint };
}

/**
 * Whether `certificate` authenticates `client` by tls_client_auth (RFC 8705 §2.1.2): the client registered a SAN URI
 * and the certificate's URI SAN equals it (compared in constant time). Without a certificate: false.
 *
 * @example
 * if (!certificateAuthenticates(client, presented.certificate)) throw oauthError('invalid_client');
 */
export function certificateAuthenticates(client: Client, certificate: PresentedCertificate | undefined): boolean {
  const registered = client.tlsClientAuthSanUri;
  if (certificate === undefined || registered === undefined || registered.length === 0) return false;
  return constantTimeEqual(certificate.sanUri, registered);
}
