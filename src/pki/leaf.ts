import { leafExtensions, type LeafNames } from './extensions.js';
import { SIGNING_ALGORITHM, exportPkcs8, generateP256KeyPair, pkcs8Pem, type CryptoKey } from './keys.js';
import { randomSerialNumber } from './serial.js';
import { x509 } from './x509.js';

/** notBefore is backdated this much, so that peers with a slightly slow clock accept a brand-new certificate. */
export const CLOCK_SKEW_BACKDATE_MS = 10_000;

/** The CA certificate and key that sign leaves. */
export interface LeafIssuer {
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
}

/** A signed leaf with its fresh private key. */
export interface SignedLeaf {
  certificate: x509.X509Certificate;
  /** PKCS#8 PEM of the leaf key. Held in memory only: never stored, never logged. */
  keyPem: string;
  issuedAt: number;
}

/**
 * Signs an X.509-SVID leaf under `issuer` for a fresh ECDSA P-256 key: empty subject, exactly one URI SAN plus the
 * given DNS/IP SANs, CA:false, critical digitalSignature, EKU serverAuth+clientAuth, random 126-bit serial, notBefore
 * backdated by {@link CLOCK_SKEW_BACKDATE_MS}, notAfter `now + ttlMs` capped at the issuer's notAfter.
 *
 * This is the pki-internal signing step: it does no policy check of the names (the callers do, e.g. the listener
 * certificate path pins the URI to the trust domain).
 *
 * @example
 * const leaf = await signLeaf({ issuer, names: { uri, dnsNames: ['localhost'], ipAddresses: [] }, now, ttlMs });
 */
export async function signLeaf(input: {
  issuer: LeafIssuer;
  names: LeafNames;
  now: number;
  ttlMs: number;
}): Promise<SignedLeaf> {
  const keys = await generateP256KeyPair();
  const issuerPublicKey = await input.issuer.certificate.publicKey.export();
  const notAfter = Math.min(input.now + input.ttlMs, input.issuer.certificate.notAfter.getTime());
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: '',
    issuer: input.issuer.certificate.subjectName,
    notBefore: new Date(input.now - CLOCK_SKEW_BACKDATE_MS),
    notAfter: new Date(notAfter),
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: input.issuer.privateKey,
    extensions: await leafExtensions(input.names, keys.publicKey, issuerPublicKey),
  });
  const keyPem = pkcs8Pem(await exportPkcs8(keys.privateKey));
  return { certificate, keyPem, issuedAt: input.now };
}
