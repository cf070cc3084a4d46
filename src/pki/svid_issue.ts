import { createHash, sign, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import * as asn1x509 from '@peculiar/asn1-x509';
import { CLOCK_SKEW_BACKDATE_MS } from './leaf.js';
import { randomSerialNumber } from './serial.js';
import { PreEncoded, PreEncodedSequence, SignedCertificate, SvidTbsCertificate, preEncode } from './tbs_template.js';
import type { VerifiedCsr } from './csr.js';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/**
 * The active intermediate, prepared once for fast signing: a node:crypto key (signing is synchronous) and every part
 * of an SVID that does not change between SVIDs, already DER-encoded.
 */
export interface SvidSigner {
  /** DER of the intermediate certificate. */
  certificateDer: Buffer;
  notAfter: number;
  /** node:crypto private key (imported once). */
  key: KeyObject;
  /** Pre-encoded: signature algorithm, issuer name, empty subject, the constant extensions. */
  constant: { algorithm: PreEncoded; issuer: PreEncoded; subject: PreEncoded; extensions: PreEncoded[] };
}

function extension(id: string, critical: boolean, value: unknown): asn1x509.Extension {
  return new asn1x509.Extension({ extnID: id, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/**
 * Prepares {@link SvidSigner} from the intermediate's DER and its private key: the issuer name, the algorithm and the
 * extensions every SVID carries (CA:false, keyUsage digitalSignature, EKU serverAuth+clientAuth, AKI) are encoded
 * once here with the @peculiar/asn1-x509 classes.
 *
 * @example
 * const signer = svidSigner(intermediateDer, createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
 */
export function svidSigner(certificateDer: Buffer, key: KeyObject): SvidSigner {
  const cert = AsnConvert.parse(certificateDer, asn1x509.Certificate);
  const tbs = cert.tbsCertificate;
  const skiExt = tbs.extensions?.find((e) => e.extnID === asn1x509.id_ce_subjectKeyIdentifier);
  const ski = skiExt
    ? Buffer.from(AsnConvert.parse(skiExt.extnValue.buffer, asn1x509.SubjectKeyIdentifier).buffer)
    : createHash('sha1').update(Buffer.from(tbs.subjectPublicKeyInfo.subjectPublicKey)).digest();
  const extensions = [
    extension(asn1x509.id_ce_basicConstraints, true, new asn1x509.BasicConstraints({ cA: false })),
    extension(asn1x509.id_ce_keyUsage, true, new asn1x509.KeyUsage(asn1x509.KeyUsageFlags.digitalSignature)),
    extension(
      asn1x509.id_ce_extKeyUsage,
      false,
      new asn1x509.ExtendedKeyUsage([asn1x509.id_kp_serverAuth, asn1x509.id_kp_clientAuth]),
    ),
    extension(
      asn1x509.id_ce_authorityKeyIdentifier,
      false,
      new asn1x509.AuthorityKeyIdentifier({ keyIdentifier: new asn1x509.KeyIdentifier(ski) }),
    ),
  ].map(preEncode);
  return {
    certificateDer,
    notAfter: tbs.validity.notAfter.getTime().getTime(),
    key,
    constant: {
      algorithm: preEncode(new asn1x509.AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 })),
      issuer: preEncode(tbs.subject),
      subject: preEncode(new asn1x509.Name([])),
      extensions,
    },
  };
}

/** The signed X.509-SVID. */
export interface SignedSvid {
  der: Buffer;
  serialNumber: string;
  notBefore: number;
  notAfter: number;
}

/**
 * Signs an X.509-SVID for the CSR's key: empty subject, exactly one URI SAN (`spiffeId`) plus `dnsNames` (critical,
 * as the subject is empty), CA:false, critical keyUsage digitalSignature, EKU serverAuth+clientAuth, SKI/AKI, a
 * 126-bit random serial, notBefore backdated for clock skew and notAfter `now + ttlMs` capped at the issuer's.
 * The TBSCertificate is encoded through asn1-schema classes (constant parts pre-encoded by {@link svidSigner}) and
 * signed synchronously with node:crypto (ECDSA P-256, SHA-256). The caller has authorized the names; nothing
 * requested in the CSR is copied.
 *
 * @example
 * const svid = signSvid({ signer, csr: verifyCsr(der), spiffeId, dnsNames: [], now, ttlMs: 86_400_000 });
 */
export function signSvid(input: {
  signer: SvidSigner;
  csr: VerifiedCsr;
  spiffeId: string;
  dnsNames: readonly string[];
  now: number;
  ttlMs: number;
}): SignedSvid {
  const { signer, csr } = input;
  const { constant } = signer;
  const serialNumber = randomSerialNumber();
  const notBefore = Math.floor((input.now - CLOCK_SKEW_BACKDATE_MS) / 1000) * 1000;
  const notAfter = Math.floor(Math.min(input.now + input.ttlMs, signer.notAfter) / 1000) * 1000;
  const names = [
    new asn1x509.GeneralName({ uniformResourceIdentifier: input.spiffeId }),
    ...input.dnsNames.map((dNSName) => new asn1x509.GeneralName({ dNSName })),
  ];
  const keyId = csr.spkiSha256.subarray(0, 20);
  const extensions = new PreEncodedSequence([
    ...constant.extensions,
    preEncode(extension(asn1x509.id_ce_subjectAltName, true, new asn1x509.SubjectAlternativeName(names))),
    preEncode(extension(asn1x509.id_ce_subjectKeyIdentifier, false, new asn1x509.SubjectKeyIdentifier(keyId))),
  ]);
  const tbs = new SvidTbsCertificate({
    serialNumber: toArrayBuffer(Buffer.from(serialNumber, 'hex')),
    signature: constant.algorithm,
    issuer: constant.issuer,
    validity: new asn1x509.Validity({ notBefore: new Date(notBefore), notAfter: new Date(notAfter) }),
    subject: constant.subject,
    subjectPublicKeyInfo: PreEncoded.of(csr.spkiDer),
    extensions,
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = sign('sha256', tbsDer, { key: signer.key, dsaEncoding: 'der' });
  const certificate = new SignedCertificate({
    tbsCertificate: PreEncoded.of(tbsDer),
    signatureAlgorithm: constant.algorithm,
    signatureValue: toArrayBuffer(signature),
  });
  const der = Buffer.from(AsnConvert.serialize(certificate));
  return { der, serialNumber, notBefore, notAfter };
}

/**
 * DER certificate to PEM.
 *
 * @example
 * derToPem(svid.der); // '-----BEGIN CERTIFICATE-----\n...'
 */
export function derToPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
