import { GatehouseError } from '../core/index.js';
import { constantTimeEqual, sha256Base64url } from '../crypto/index.js';

/** The RFC 8705 §3.1 confirmation method: base64url SHA-256 of the client certificate's DER. */
export const CERTIFICATE_THUMBPRINT = 'x5t#S256';

/**
 * The client certificate of the request's connection, as its `x5t#S256` thumbprint, or a function computing it on
 * demand (only bound tokens need it). Undefined: the request came without a client certificate.
 */
export type CertificateThumbprint = string | (() => string | undefined) | undefined;

/** What the transport tells the verifier about a request besides its headers. */
export interface RequestBinding {
  /** The TLS client certificate's thumbprint (see {@link peerCertificateThumbprint}). */
  certificateThumbprint?: CertificateThumbprint;
}

function invalid(detail: string): GatehouseError {
  return new GatehouseError('ERR_TOKEN_INVALID', { oauthError: 'invalid_token', detail });
}

/**
 * The certificate thumbprint a token is bound to (`cnf.x5t#S256`), or undefined for a bearer token (no `cnf`). A
 * `cnf` this verifier cannot check (another confirmation method such as DPoP's `jkt`, or a malformed value) is
 * invalid_token: a sender-constrained token is never accepted as a bearer token.
 *
 * @example
 * boundThumbprint({ sub: 'svc', cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } }); // 'bwcK0e...'
 */
export function boundThumbprint(claims: Readonly<Record<string, unknown>>): string | undefined {
  const cnf = claims['cnf'];
  if (cnf === undefined) return undefined;
  const thumbprint =
    typeof cnf === 'object' && cnf !== null ? (cnf as Record<string, unknown>)[CERTIFICATE_THUMBPRINT] : undefined;
  if (typeof thumbprint !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(thumbprint)) {
    throw invalid('cnf without a usable x5t#S256');
  }
  return thumbprint;
}

/**
 * RFC 8705 §3: a certificate-bound token is accepted only on a connection whose client certificate has the bound
 * thumbprint (compared in constant time); an unbound token needs no certificate. Throws ERR_TOKEN_INVALID
 * (invalid_token, 401) otherwise.
 *
 * @example
 * checkCertificateBinding(principal.claims, peerCertificateThumbprint(req.socket));
 */
export function checkCertificateBinding(
  claims: Readonly<Record<string, unknown>>,
  presented: CertificateThumbprint,
): void {
  const bound = boundThumbprint(claims);
  if (bound === undefined) return;
  const thumbprint = typeof presented === 'function' ? presented() : presented;
  if (thumbprint === undefined) throw invalid('certificate-bound token without a client certificate');
  if (!constantTimeEqual(bound, thumbprint)) throw invalid('certificate-bound token on another certificate');
}

interface PeerCertificateSource {
  getPeerCertificate(): { raw?: Buffer } | null;
}

/**
 * The `x5t#S256` thumbprint (base64url SHA-256 of the DER) of the client certificate a TLS socket received, or
 * undefined for a plain socket or a TLS connection without a client certificate. Works for node:https, fastify
 * (`request.raw.socket`) and express (`req.socket`).
 *
 * @example
 * const principal = await verifier.verifyRequest(req.headers, { certificateThumbprint: () => peerCertificateThumbprint(req.socket) });
 */
export function peerCertificateThumbprint(socket: unknown): string | undefined {
  if (typeof socket !== 'object' || socket === null) return undefined;
  const source = socket as Partial<PeerCertificateSource>;
  if (typeof source.getPeerCertificate !== 'function') return undefined;
  const raw = source.getPeerCertificate()?.raw;
  return raw !== undefined && raw.length > 0 ? sha256Base64url(raw) : undefined;
}
