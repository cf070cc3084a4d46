import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';

/** A WebCrypto key (Node's). */
export type CryptoKey = webcrypto.CryptoKey;
/** A WebCrypto key pair (Node's). */
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** The signature algorithm of every gatehouse certificate: ECDSA P-256 with SHA-256. */
export const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

/**
 * A fresh ECDSA P-256 key pair (WebCrypto, extractable so that its PKCS#8 can be sealed or handed to TLS).
 *
 * @example
 * const keys = await generateP256KeyPair();
 */
export async function generateP256KeyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/**
 * The PKCS#8 DER of a private key.
 *
 * @example
 * await vault.putSecret(name, await exportPkcs8(keys.privateKey));
 */
export async function exportPkcs8(key: CryptoKey): Promise<Buffer> {
  return Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
}

/**
 * PKCS#8 DER as PEM (`-----BEGIN PRIVATE KEY-----`).
 *
 * @example
 * const keyPem = pkcs8Pem(await exportPkcs8(keys.privateKey));
 */
export function pkcs8Pem(der: Buffer): string {
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
}

/**
 * Imports a P-256 PKCS#8 DER private key as a non-extractable signing key.
 *
 * @example
 * const signingKey = await importSigningKey(der);
 */
export async function importSigningKey(der: Buffer): Promise<CryptoKey> {
  return await webcrypto.subtle.importKey('pkcs8', der, EC_P256, false, ['sign']);
}

/**
 * The SPKI DER of the public half of a PKCS#8 DER private key (to compare it with a certificate's key).
 *
 * @example
 * publicSpkiOf(der).equals(cert.publicKey.export({ type: 'spki', format: 'der' }));
 */
export function publicSpkiOf(pkcs8Der: Buffer): Buffer {
  const priv = createPrivateKey({ key: pkcs8Der, format: 'der', type: 'pkcs8' });
  return createPublicKey(priv).export({ type: 'spki', format: 'der' });
}
