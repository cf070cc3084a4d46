import { isGatehouseError } from '../core/index.js';
import { parseSpiffeId } from './spiffe_id.js';
import { x509 } from './x509.js';

/** Why a certificate is not a valid X.509-SVID of a trust domain (stable strings, logged and asserted on). */
export type SvidRejection =
  | 'malformed'
  | 'not_yet_valid'
  | 'expired'
  | 'ca_certificate'
  | 'key_usage_missing'
  | 'key_usage_not_critical'
  | 'key_usage_no_digital_signature'
  | 'key_usage_cert_sign'
  | 'eku_incomplete'
  | 'no_uri_san'
  | 'multiple_uri_sans'
  | 'invalid_spiffe_id'
  | 'foreign_trust_domain'
  | 'san_not_critical';

/** The verdict of {@link validateSvid}. */
export type SvidVerdict =
  | { valid: true; spiffeId: string; notBefore: number; notAfter: number; serialNumber: string }
  | { valid: false; reason: SvidRejection; message: string };

const MESSAGES: Record<SvidRejection, string> = {
  malformed: 'the certificate or one of its extensions cannot be decoded',
  not_yet_valid: 'the certificate is not yet valid',
  expired: 'the certificate has expired',
  ca_certificate: 'a CA certificate is not a leaf SVID (basicConstraints cA=true)',
  key_usage_missing: 'keyUsage is missing',
  key_usage_not_critical: 'keyUsage is not critical',
  key_usage_no_digital_signature: 'keyUsage lacks digitalSignature',
  key_usage_cert_sign: 'keyUsage of a leaf includes keyCertSign or cRLSign',
  eku_incomplete: 'extendedKeyUsage lacks serverAuth or clientAuth',
  no_uri_san: 'the certificate has no URI SAN (no SPIFFE ID)',
  multiple_uri_sans: 'the certificate has more than one URI SAN',
  invalid_spiffe_id: 'the URI SAN is not a valid SPIFFE ID',
  foreign_trust_domain: 'the SPIFFE ID belongs to another trust domain',
  san_not_critical: 'the subject is empty but subjectAltName is not critical',
};

function reject(reason: SvidRejection): SvidVerdict {
  return { valid: false, reason, message: MESSAGES[reason] };
}

/** What the SVID rules read of a certificate, taken from the DER in one guarded step. */
interface SvidFacts {
  notBefore: number;
  notAfter: number;
  serialNumber: string;
  subject: string;
  ca: boolean;
  keyUsage: { critical: boolean; usages: number } | undefined;
  extendedKeyUsages: string[] | undefined;
  uris: string[];
  sanCritical: boolean;
}

/**
 * Parses the certificate and every extension the rules read. @peculiar/x509 decodes the extensions lazily and throws
 * on garbage bytes in any of them (SAN, keyUsage, EKU, basicConstraints, ...), and after a throw it caches an empty
 * extension list: so everything is read here, once, and any throw makes the certificate `malformed` (undefined).
 */
function readFacts(certificate: Buffer | string | x509.X509Certificate): SvidFacts | undefined {
  try {
    const cert = certificate instanceof x509.X509Certificate ? certificate : new x509.X509Certificate(certificate);
    const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    return {
      notBefore: cert.notBefore.getTime(),
      notAfter: cert.notAfter.getTime(),
      serialNumber: cert.serialNumber,
      subject: cert.subject,
      ca: cert.getExtension(x509.BasicConstraintsExtension)?.ca === true,
      keyUsage: keyUsage ? { critical: keyUsage.critical, usages: keyUsage.usages } : undefined,
      extendedKeyUsages: eku ? eku.usages.map(String) : undefined,
      uris: san ? san.names.items.filter((n) => n.type === 'url').map((n) => n.value) : [],
      sanCritical: san?.critical === true,
    };
  } catch {
    return undefined;
  }
}

/**
 * Checks every X.509-SVID rule (SPIFFE X509-SVID §4, §5) on a leaf, beyond the chain check TLS does: validity at
 * `now`; cA=false; keyUsage present, critical, with digitalSignature and without keyCertSign/cRLSign; EKU (when
 * present) with both serverAuth and clientAuth; exactly one URI SAN, a valid SPIFFE ID of `trustDomain` with a
 * non-root path; SAN critical when the subject is empty. Returns a typed reason instead of throwing, on any input:
 * a certificate or any of its extensions that cannot be decoded is `malformed` (peers send arbitrary bytes).
 *
 * @example
 * const verdict = validateSvid(peer.raw, { trustDomain: 'gatehouse.local', now: clock.now() });
 * if (!verdict.valid) logger.warn({ reason: verdict.reason }, 'peer refused');
 */
export function validateSvid(
  certificate: Buffer | string | x509.X509Certificate,
  options: { trustDomain: string; now: number },
): SvidVerdict {
  const cert = readFacts(certificate);
  if (!cert) return reject('malformed');
  if (cert.notBefore > options.now) return reject('not_yet_valid');
  if (cert.notAfter <= options.now) return reject('expired');
  if (cert.ca) return reject('ca_certificate');
  const keyUsage = cert.keyUsage;
  if (!keyUsage) return reject('key_usage_missing');
  if (!keyUsage.critical) return reject('key_usage_not_critical');
  if ((keyUsage.usages & x509.KeyUsageFlags.digitalSignature) === 0) return reject('key_usage_no_digital_signature');
  if ((keyUsage.usages & (x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)) !== 0) {
    return reject('key_usage_cert_sign');
  }
  const usages = cert.extendedKeyUsages;
  if (usages) {
    if (!usages.includes(x509.ExtendedKeyUsage.serverAuth) || !usages.includes(x509.ExtendedKeyUsage.clientAuth)) {
      return reject('eku_incomplete');
    }
  }
  const uris = cert.uris;
  if (uris.length === 0) return reject('no_uri_san');
  if (uris.length > 1) return reject('multiple_uri_sans');
  const spiffeId = uris[0] as string;
  let trustDomain: string;
  try {
    trustDomain = parseSpiffeId(spiffeId).trustDomain;
  } catch (err) {
    if (isGatehouseError(err)) return reject('invalid_spiffe_id');
    throw err;
  }
  if (trustDomain !== options.trustDomain) return reject('foreign_trust_domain');
  if (cert.subject === '' && !cert.sanCritical) return reject('san_not_critical');
  return {
    valid: true,
    spiffeId,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    serialNumber: cert.serialNumber,
  };
}
