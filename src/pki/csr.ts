import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { Attributes, CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Name, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { GatehouseError } from '../core/index.js';

const ID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const ED25519 = '1.3.101.112';
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';

/** Largest CSR accepted (a P-256 or Ed25519 CSR is a few hundred bytes). */
export const CSR_MAX_BYTES = 16_384;

/** A CSR whose signature was verified: only its public key is used; every requested name is ignored. */
export interface VerifiedCsr {
  /** The subject public key info as parsed (placed as-is into the certificate). */
  spki: SubjectPublicKeyInfo;
  /** Its DER (for key identifiers and comparisons). */
  spkiDer: Buffer;
  publicKey: KeyObject;
  keyType: 'ec-p256' | 'ed25519';
}

function bad(detail: string): GatehouseError {
  return new GatehouseError('ERR_PKI_CSR_INVALID', { detail });
}

/**
 * Decodes PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`) into DER.
 *
 * @example
 * const der = csrPemToDer(pem);
 */
export function csrPemToDer(pem: string): Buffer {
  const match =
    /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([A-Za-z0-9+/=\s]+)-----END (?:NEW )?CERTIFICATE REQUEST-----/.exec(
      pem,
    );
  if (!match?.[1]) throw bad('not a PEM certificate request');
  return Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}

/**
 * Parses a PKCS#10 CSR, requires an EC P-256 (ECDSA with SHA-256/384) or Ed25519 key, and verifies its
 * self-signature with node:crypto (proof that the requester holds the private key). Throws ERR_PKI_CSR_INVALID.
 *
 * @example
 * const csr = verifyCsr(csrPemToDer(pem)); // csr.keyType === 'ec-p256'
 */
export function verifyCsr(der: Buffer): VerifiedCsr {
  if (der.length === 0 || der.length > CSR_MAX_BYTES) throw bad('CSR size out of bounds');
  let request: CertificationRequest;
  try {
    request = AsnConvert.parse(der, CertificationRequest);
  } catch {
    throw bad('CSR is not DER PKCS#10');
  }
  const info = request.certificationRequestInfo;
  const spki = info.subjectPKInfo;
  const keyAlgorithm = spki.algorithm.algorithm;
  let keyType: VerifiedCsr['keyType'];
  let hash: string | null;
  const sigAlg = request.signatureAlgorithm.algorithm;
  if (keyAlgorithm === ID_EC_PUBLIC_KEY) {
    keyType = 'ec-p256';
    if (sigAlg === ECDSA_WITH_SHA256) hash = 'sha256';
    else if (sigAlg === ECDSA_WITH_SHA384) hash = 'sha384';
    else throw bad(`unsupported CSR signature algorithm ${sigAlg}`);
  } else if (keyAlgorithm === ED25519) {
    keyType = 'ed25519';
    if (sigAlg !== ED25519) throw bad(`unsupported CSR signature algorithm ${sigAlg}`);
    hash = null;
  } else {
    throw bad(`unsupported CSR key algorithm ${keyAlgorithm}`);
  }
  const spkiDer = Buffer.from(AsnConvert.serialize(spki));
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  } catch {
    throw bad('CSR public key cannot be decoded');
  }
  if (keyType === 'ec-p256' && publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw bad('CSR EC key is not on P-256');
  }
  const signed = Buffer.from(request.certificationRequestInfoRaw ?? AsnConvert.serialize(info));
  const signature = Buffer.from(request.signature);
  const ok = verify(hash, signed, { key: publicKey, dsaEncoding: 'der' }, signature);
  if (!ok) throw bad('CSR signature does not verify');
  return { spki, spkiDer, publicKey, keyType };
}

/**
 * A PKCS#10 CSR (PEM) for `privateKey` (EC P-256 or Ed25519) with an empty subject and no requested names: the CA
 * decides the names. Built with @peculiar/asn1-csr and signed with node:crypto.
 *
 * @example
 * const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
 * const csrPem = createCsr(privateKey);
 */
export function createCsr(privateKey: KeyObject): string {
  const spkiDer = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const info = new CertificationRequestInfo({
    version: 0,
    subject: new Name([]),
    subjectPKInfo: AsnConvert.parse(spkiDer, SubjectPublicKeyInfo),
    attributes: new Attributes(),
  });
  const infoDer = Buffer.from(AsnConvert.serialize(info));
  const ed = privateKey.asymmetricKeyType === 'ed25519';
  const signature = sign(ed ? null : 'sha256', infoDer, { key: privateKey, dsaEncoding: 'der' });
  const request = new CertificationRequest({
    certificationRequestInfo: info,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: ed ? ED25519 : ECDSA_WITH_SHA256 }),
    signature: signature.buffer.slice(signature.byteOffset, signature.byteOffset + signature.byteLength) as ArrayBuffer,
  });
  const der = Buffer.from(AsnConvert.serialize(request));
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE REQUEST-----\n${lines.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}
