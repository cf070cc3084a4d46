import { caExtensions } from './extensions.js';
import { SIGNING_ALGORITHM, generateP256KeyPair, type CryptoKeyPair } from './keys.js';
import { CLOCK_SKEW_BACKDATE_MS } from './leaf.js';
import { randomSerialNumber } from './serial.js';
import { x509 } from './x509.js';

/** A freshly made CA certificate with its key pair (the private key is extractable so that it can be sealed). */
export interface NewCaCertificate {
  certificate: x509.X509Certificate;
  keys: CryptoKeyPair;
}

/**
 * The subject of the root of `trustDomain`.
 *
 * @example
 * rootSubject('gatehouse.local'); // 'CN=gatehouse root CA, O=gatehouse, OU=gatehouse.local'
 */
export function rootSubject(trustDomain: string): string {
  return `CN=gatehouse root CA, O=gatehouse, OU=${trustDomain}`;
}

/**
 * Creates the self-signed root of a trust domain: ECDSA P-256, CA:true pathlen 1 (one intermediate below it),
 * critical keyCertSign+cRLSign, SKI. Valid until `now + ttlMs`, from `now` backdated by the clock-skew slack.
 *
 * @example
 * const root = await createRoot({ trustDomain: 'gatehouse.local', now: clock.now(), ttlMs: 3650 * 86_400_000 });
 */
export async function createRoot(input: {
  trustDomain: string;
  now: number;
  ttlMs: number;
}): Promise<NewCaCertificate> {
  const keys = await generateP256KeyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: rootSubject(input.trustDomain),
    notBefore: new Date(input.now - CLOCK_SKEW_BACKDATE_MS),
    notAfter: new Date(input.now + input.ttlMs),
    signingAlgorithm: SIGNING_ALGORITHM,
    keys,
    extensions: await caExtensions({ publicKey: keys.publicKey, pathLength: 1 }),
  });
  return { certificate, keys };
}
