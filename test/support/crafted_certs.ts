import { connect } from 'node:tls';
import type { RecordStore } from '../../src/core/index.js';
import type { SecretVault } from '../../src/pki/index.js';
import { exportPkcs8, generateP256KeyPair, importSigningKey, pkcs8Pem } from '../../src/pki/keys.js';
import type { AuthorityRecord } from '../../src/pki/state.js';
import { x509 } from '../../src/pki/x509.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const HOUR = 3_600_000;

/**
 * Extensions whose bytes @peculiar/x509 cannot decode (what an attacker's certificate may carry). OpenSSL refuses to
 * verify a chain through all of them but `sanX400` (an empty x400Address, which it decodes): a certificate of our CA
 * with that one passes the chain check and reaches our SVID rules.
 */
export const GARBAGE_EXTENSIONS = {
  san: () => new x509.Extension('2.5.29.17', false, new Uint8Array([0x30, 0x03, 0xa9, 0x01, 0x00])),
  sanX400: () => new x509.Extension('2.5.29.17', false, new Uint8Array([0x30, 0x04, 0xa3, 0x02, 0x30, 0x00])),
  sanEdi: () => new x509.Extension('2.5.29.17', false, new Uint8Array([0x30, 0x04, 0xa5, 0x02, 0x30, 0x00])),
  keyUsage: () => new x509.Extension('2.5.29.15', true, new Uint8Array([0x04, 0x00])),
  basicConstraints: () => new x509.Extension('2.5.29.19', true, new Uint8Array([0x02, 0x01, 0x05])),
  eku: () => new x509.Extension('2.5.29.37', false, new Uint8Array([0x05, 0x00])),
  ski: () => new x509.Extension('2.5.29.14', false, new Uint8Array([0x05, 0x00])),
};

/** A certificate and its key as PEM (`certPem` holds the chain when one was made under an intermediate). */
export interface CraftedCert {
  certPem: string;
  keyPem: string;
  der: Buffer;
}

/** A self-signed certificate (valid from a minute ago for an hour, by `now`) with the given extensions only. */
export async function selfSigned(extensions: x509.Extension[], now = Date.now()): Promise<CraftedCert> {
  const keys = await generateP256KeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=crafted',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + HOUR),
    signingAlgorithm: ALG,
    keys,
    extensions,
  });
  return {
    certPem: cert.toString('pem') + '\n',
    keyPem: pkcs8Pem(await exportPkcs8(keys.privateKey)),
    der: Buffer.from(cert.rawData),
  };
}

/**
 * A leaf signed by the CA's active intermediate (so the chain verifies) with exactly the given extensions: what a
 * compromised or buggy issuer could produce. `certPem` is leaf + intermediate.
 */
export async function underIntermediate(
  ca: { store: RecordStore; vault: SecretVault },
  extensions: x509.Extension[],
  now = Date.now(),
): Promise<CraftedCert> {
  const record = (await ca.store.get<AuthorityRecord>('pki_authorities', 'platform'))!.value;
  const int = record.intermediates.find((i) => i.id === record.activeIntermediateId) ?? record.intermediates[0]!;
  const issuer = new x509.X509Certificate(int.certPem);
  const signingKey = await importSigningKey((await ca.vault.getSecret(int.keySecret))!);
  const keys = await generateP256KeyPair();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '7f02',
    subject: 'CN=crafted',
    issuer: issuer.subjectName,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + HOUR),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    publicKey: keys.publicKey,
    signingKey,
    extensions,
  });
  return {
    certPem: cert.toString('pem') + '\n' + int.certPem,
    keyPem: pkcs8Pem(await exportPkcs8(keys.privateKey)),
    der: Buffer.from(cert.rawData),
  };
}

/**
 * Connects to 127.0.0.1:`port` presenting `cert` (Node loads certificates curl and openssl refuse to send), sends a
 * request once the handshake is done, and resolves on close with whether the handshake finished and what came back.
 */
export function presentCertificate(port: number, cert: CraftedCert): Promise<{ handshake: boolean; answer: string }> {
  return new Promise((resolve) => {
    let handshake = false;
    let answer = '';
    const socket = connect({
      host: '127.0.0.1',
      port,
      cert: cert.certPem,
      key: cert.keyPem,
      rejectUnauthorized: false,
    });
    socket.on('secureConnect', () => {
      handshake = true;
      socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ handshake, answer }));
  });
}
