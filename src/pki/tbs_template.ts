import {
  AsnArray,
  AsnConvert,
  AsnIntegerArrayBufferConverter,
  AsnProp,
  AsnPropTypes,
  AsnType,
  AsnTypeTypes,
} from '@peculiar/asn1-schema';
import { Validity } from '@peculiar/asn1-x509';

/** What asn1js's encoder hands to each child value: a writer of the enclosing value's bytes. */
interface BerWriter {
  write(buffer: ArrayBuffer): void;
}

/** An encoder node that emits DER encoded earlier, unchanged. */
class EncodedNode {
  constructor(private readonly der: ArrayBuffer) {}
  toBER(_sizeOnly?: boolean, writer?: BerWriter): ArrayBuffer {
    if (writer) writer.write(this.der);
    return this.der;
  }
}

/**
 * A complete DER value (one TLV) that @peculiar/asn1-schema embeds as-is when serializing: the parts of a
 * certificate that do not change between certificates (issuer name, algorithm, constant extensions) are encoded once
 * with their own schema classes and reused, and the CSR's SubjectPublicKeyInfo is copied as received.
 *
 * @example
 * const issuer = PreEncoded.of(AsnConvert.serialize(issuerName));
 */
export class PreEncoded {
  constructor(readonly der: ArrayBuffer = new ArrayBuffer(0)) {}

  /** Wraps DER bytes (one complete value). */
  static of(der: ArrayBuffer | Uint8Array): PreEncoded {
    const view = der instanceof Uint8Array ? der : new Uint8Array(der);
    return new PreEncoded(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) as ArrayBuffer);
  }

  /** asn1-schema's convertible protocol: the encoder node. */
  toASN(): EncodedNode {
    return new EncodedNode(this.der);
  }

  /** Never parsed through this class. */
  fromASN(): this {
    throw new Error('PreEncoded is for encoding only');
  }

  /** asn1-schema builds a parse schema for every type it serializes; these classes are never parsed. */
  toSchema(name: string): { name: string } {
    return { name };
  }
}

/** `SEQUENCE OF` pre-encoded values (the Extensions of a TBSCertificate). */
export class PreEncodedSequence extends AsnArray<PreEncoded> {}
AsnType({ type: AsnTypeTypes.Sequence, itemType: PreEncoded })(PreEncodedSequence);

/**
 * RFC 5280 TBSCertificate (v3) with the same ASN.1 definition as @peculiar/asn1-x509's class, where the constant
 * members are {@link PreEncoded}: only the serial, validity, key and the per-certificate extensions are encoded per
 * issuance. The schema is declared without decorator syntax (the project does not enable it).
 */
export class SvidTbsCertificate {
  version = 2;
  serialNumber = new ArrayBuffer(0);
  signature!: PreEncoded;
  issuer!: PreEncoded;
  validity = new Validity();
  subject!: PreEncoded;
  subjectPublicKeyInfo!: PreEncoded;
  extensions = new PreEncodedSequence();

  constructor(params: Partial<SvidTbsCertificate> = {}) {
    Object.assign(this, params);
  }
}
AsnType({ type: AsnTypeTypes.Sequence })(SvidTbsCertificate);
const tbs = SvidTbsCertificate.prototype;
AsnProp({ type: AsnPropTypes.Integer, context: 0 })(tbs, 'version');
AsnProp({ type: AsnPropTypes.Integer, converter: AsnIntegerArrayBufferConverter })(tbs, 'serialNumber');
AsnProp({ type: PreEncoded })(tbs, 'signature');
AsnProp({ type: PreEncoded })(tbs, 'issuer');
AsnProp({ type: Validity })(tbs, 'validity');
AsnProp({ type: PreEncoded })(tbs, 'subject');
AsnProp({ type: PreEncoded })(tbs, 'subjectPublicKeyInfo');
AsnProp({ type: PreEncodedSequence, context: 3 })(tbs, 'extensions');

/** RFC 5280 Certificate whose members are all pre-encoded (the TBSCertificate as signed, byte for byte). */
export class SignedCertificate {
  tbsCertificate!: PreEncoded;
  signatureAlgorithm!: PreEncoded;
  signatureValue = new ArrayBuffer(0);

  constructor(params: Partial<SignedCertificate> = {}) {
    Object.assign(this, params);
  }
}
AsnType({ type: AsnTypeTypes.Sequence })(SignedCertificate);
AsnProp({ type: PreEncoded })(SignedCertificate.prototype, 'tbsCertificate');
AsnProp({ type: PreEncoded })(SignedCertificate.prototype, 'signatureAlgorithm');
AsnProp({ type: AsnPropTypes.BitString })(SignedCertificate.prototype, 'signatureValue');

/**
 * Encodes a schema object once as {@link PreEncoded}.
 *
 * @example
 * const algorithm = preEncode(new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' }));
 */
export function preEncode(value: unknown): PreEncoded {
  return PreEncoded.of(AsnConvert.serialize(value));
}
