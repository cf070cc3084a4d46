import { caExtensions, trustDomainNameConstraints } from './extensions.js';
import { SIGNING_ALGORITHM, generateP256KeyPair, type CryptoKey } from './keys.js';
import { CLOCK_SKEW_BACKDATE_MS } from './leaf.js';
import type { NewCaCertificate } from './root.js';
import { randomSerialNumber } from './serial.js';
import { x509 } from './x509.js';

/**
 * The subject of an intermediate of `trustDomain`.
 *
 * @example
 * intermediateSubject('gatehouse.local'); // 'CN=gatehouse intermediate CA, O=gatehouse, OU=gatehouse.local'
 */
export function intermediateSubject(trustDomain: string): string {
  return `CN=gatehouse intermediate CA, O=gatehouse, OU=${trustDomain}`;
}

/** The root that signs an intermediate. */
export interface IssuingRoot {
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
}

/**
 * Creates an intermediate signed by `root`: ECDSA P-256, CA:true pathlen 0, critical keyCertSign+cRLSign, SKI/AKI
 * and the trust-domain URI name constraint. Its validity never outlives the root's; notBefore is backdated like a
 * leaf's ({@link CLOCK_SKEW_BACKDATE_MS}), so a peer whose clock is a little slow accepts a chain it signs at once
 * (first start, an intermediate replaced at start).
 *
 * @example
 * const int = await createIntermediate({ trustDomain, root: { certificate, privateKey }, now, ttlMs: 365 * 86_400_000 });
 */
export async function createIntermediate(input: {
  trustDomain: string;
  root: IssuingRoot;
  now: number;
  ttlMs: number;
}): Promise<NewCaCertificate> {
  const keys = await generateP256KeyPair();
  const rootPublicKey = await input.root.certificate.publicKey.export();
  const notAfter = Math.min(input.now + input.ttlMs, input.root.certificate.notAfter.getTime());
  const extensions = await caExtensions({ publicKey: keys.publicKey, pathLength: 0, issuerPublicKey: rootPublicKey });
  extensions.push(trustDomainNameConstraints(input.trustDomain));
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: intermediateSubject(input.trustDomain),
    issuer: input.root.certificate.subjectName,
    notBefore: new Date(input.now - CLOCK_SKEW_BACKDATE_MS),
    notAfter: new Date(notAfter),
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: input.root.privateKey,
    extensions,
  });
  return { certificate, keys };
}
