import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

function pem(label: string, der: ArrayBuffer): string {
  const lines =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * A fresh ECDSA P-256 key pair and a PKCS#10 CSR signed with it (the CA takes only the public key from it: names
 * come from the credential). The key is PKCS#8 PEM for node:tls.
 *
 * @example
 * const { keyPem, csrPem } = await newKeyAndCsr();
 */
export async function newKeyAndCsr(): Promise<{ keyPem: string; csrPem: string }> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  type Generate = typeof x509.Pkcs10CertificateRequestGenerator.create;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { keys: keys as unknown as Parameters<Generate>[0]['keys'], signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } },
    webcrypto as unknown as Parameters<Generate>[1],
  );
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { keyPem: pem('PRIVATE KEY', pkcs8), csrPem: csr.toString('pem') };
}
