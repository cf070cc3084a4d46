import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { Attributes, CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { AsnConvert, AsnParser, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Name, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { fromBER } from 'asn1js';
import { GatehouseError } from '../core/index.js';

const ED25519 = '1.3.101.112';
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';

/** Largest CSR accepted (a P-256 or Ed25519 CSR is a few hundred bytes). */
export const CSR_MAX_BYTES = 16_384;

/** A CSR whose signature was verified: only its public key is used; every requested name is ignored. */
export interface VerifiedCsr {
  /** The SubjectPublicKeyInfo DER exactly as received (placed as-is into the certificate). */
  spkiDer: Buffer;
  /** SHA-256 of the SPKI DER: the SVID's subjectKeyIdentifier is its leftmost 160 bits (RFC 7093 §2, method 4). */
  spkiSha256: Buffer;
  publicKey: KeyObject;
  keyType: 'ec-p256' | 'ed25519';
}

/** CertificationRequestInfo, mapped only as far as needed: the key stays raw DER for node:crypto. */
class CsrInfoView {
  version = 0;
  subject = new ArrayBuffer(0);
  subjectPKInfo = new ArrayBuffer(0);
  attributes?: ArrayBuffer;
}
AsnType({ type: AsnTypeTypes.Sequence })(CsrInfoView);
AsnProp({ type: AsnPropTypes.Integer })(CsrInfoView.prototype, 'version');
AsnProp({ type: AsnPropTypes.Any })(CsrInfoView.prototype, 'subject');
AsnProp({ type: AsnPropTypes.Any })(CsrInfoView.prototype, 'subjectPKInfo');
AsnProp({ type: AsnPropTypes.Any, optional: true })(CsrInfoView.prototype, 'attributes');

/** PKCS#10 CertificationRequest with the signed info kept raw (`certificationRequestInfoRaw`). */
class CsrView {
  certificationRequestInfo = new CsrInfoView();
  certificationRequestInfoRaw?: ArrayBuffer;
  signatureAlgorithm = new AlgorithmIdentifier();
  signature = new ArrayBuffer(0);
}
AsnType({ type: AsnTypeTypes.Sequence })(CsrView);
AsnProp({ type: CsrInfoView, raw: true })(CsrView.prototype, 'certificationRequestInfo');
AsnProp({ type: AlgorithmIdentifier })(CsrView.prototype, 'signatureAlgorithm');
AsnProp({ type: AsnPropTypes.BitString })(CsrView.prototype, 'signature');

/** Why a CSR is refused: shown to the caller (it describes only what the caller sent) and logged. */
function bad(reason: string): GatehouseError {
  return new GatehouseError('ERR_PKI_CSR_INVALID', {
    message: `Invalid certificate signing request: ${reason}`,
    detail: reason,
  });
}

const PEM_CSR =
  /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([A-Za-z0-9+/=\s]+)-----END (?:NEW )?CERTIFICATE REQUEST-----/;
const PEM_BEGIN = /-----BEGIN [^-\r\n]*-----/g;

/**
 * Decodes PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`) into DER. Explanatory text before the block is
 * allowed (RFC 7468 §2; `openssl req -text` writes it), but exactly one PEM block, nothing but whitespace after its
 * END line, and canonical base64 (Node's decoder would silently drop whatever follows a `=`) are required.
 *
 * @example
 * const der = csrPemToDer(pem);
 */
export function csrPemToDer(pem: string): Buffer {
  const match = PEM_CSR.exec(pem);
  if (!match?.[1]) throw bad('not a PEM certificate request');
  if ((pem.match(PEM_BEGIN) ?? []).length > 1) throw bad('more than one PEM block (send one CERTIFICATE REQUEST)');
  if (pem.slice(match.index + match[0].length).trim() !== '') throw bad('trailing data after the PEM END line');
  const body = match[1].replace(/\s+/g, '');
  const der = Buffer.from(body, 'base64');
  if (der.toString('base64') !== body) throw bad('PEM body is not canonical base64');
  return der;
}

/**
 * Parses a PKCS#10 CSR, requires an EC P-256 (ECDSA with SHA-256/384) or Ed25519 key, and verifies its
 * self-signature with node:crypto (proof that the requester holds the private key). Bytes after the CSR's DER are
 * refused (`trailing data after the CSR`), as anything that is not exactly one request. Throws ERR_PKI_CSR_INVALID.
 *
 * @example
 * const csr = verifyCsr(csrPemToDer(pem)); // csr.keyType === 'ec-p256'
 */
export function verifyCsr(der: Buffer): VerifiedCsr {
  if (der.length === 0 || der.length > CSR_MAX_BYTES) throw bad('CSR size out of bounds');
  // One parse with asn1js: its end offset shows bytes after the CertificationRequest, which the mapping would ignore.
  const decoded = fromBER(der);
  if (decoded.offset === -1 || decoded.result.error) throw bad('CSR is not DER PKCS#10');
  if (decoded.offset !== der.length) throw bad('trailing data after the CSR');
  let request: CsrView;
  try {
    request = AsnParser.fromASN(decoded.result, CsrView);
  } catch {
    throw bad('CSR is not DER PKCS#10');
  }
  if (request.certificationRequestInfo.version !== 0 || !request.certificationRequestInfoRaw) {
    throw bad('CSR version is not 1');
  }
  const spkiDer = Buffer.from(request.certificationRequestInfo.subjectPKInfo);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  } catch {
    throw bad('CSR public key cannot be decoded');
  }
  const sigAlg = request.signatureAlgorithm.algorithm;
  let keyType: VerifiedCsr['keyType'];
  let hash: string | null;
  if (publicKey.asymmetricKeyType === 'ec') {
    if (publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw bad('CSR EC key is not on P-256');
    keyType = 'ec-p256';
    if (sigAlg === ECDSA_WITH_SHA256) hash = 'sha256';
    else if (sigAlg === ECDSA_WITH_SHA384) hash = 'sha384';
    else throw bad(`unsupported CSR signature algorithm ${sigAlg}`);
  } else if (publicKey.asymmetricKeyType === 'ed25519') {
    keyType = 'ed25519';
    if (sigAlg !== ED25519) throw bad(`unsupported CSR signature algorithm ${sigAlg}`);
    hash = null;
  } else {
    throw bad(`unsupported CSR key type ${String(publicKey.asymmetricKeyType)} (EC P-256 or Ed25519 only)`);
  }
  const signed = Buffer.from(request.certificationRequestInfoRaw);
  const ok = verify(hash, signed, { key: publicKey, dsaEncoding: 'der' }, Buffer.from(request.signature));
  if (!ok) throw bad('CSR signature does not verify');
  return { spkiDer, spkiSha256: createHash('sha256').update(spkiDer).digest(), publicKey, keyType };
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
