import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1x509 from '@peculiar/asn1-x509';
import type { CryptoKey } from './keys.js';
import { x509 } from './x509.js';

/**
 * The name constraint of the intermediate: the only permitted URI subtree is the trust domain, so the intermediate
 * cannot sign an identity of another trust domain even if its key is misused.
 *
 * OpenSSL (and RFC 5280 §4.2.1.10) read a URI constraint as a host: `URI:example.org` permits every URI whose host is
 * exactly `example.org`, i.e. `spiffe://example.org/...`. So the permitted subtree is the bare trust domain.
 *
 * Only URIs are constrained, on purpose. A name constraint restricts just the name forms it lists: with no DNS or IP
 * subtree, DNS and IP SANs stay unconstrained, which platform listener certificates need (`DNS:localhost`,
 * `IP:127.0.0.1`, plus whatever host names an operator configures). Constraining DNS/IP too would make every new
 * listener host name a CA re-issue.
 *
 * @example
 * const ext = trustDomainNameConstraints('example.org'); // critical, permits URI:example.org
 */
export function trustDomainNameConstraints(trustDomain: string): x509.Extension {
  const constraints = new asn1x509.NameConstraints({
    permittedSubtrees: new asn1x509.GeneralSubtrees([
      new asn1x509.GeneralSubtree({
        base: new asn1x509.GeneralName({ uniformResourceIdentifier: trustDomain }),
      }),
    ]),
  });
  return new x509.Extension(asn1x509.id_ce_nameConstraints, true, AsnConvert.serialize(constraints));
}

/**
 * The extensions of a CA certificate: critical CA:true with `pathLength`, critical keyCertSign+cRLSign, SKI, and the
 * AKI of the issuer when it is not self-signed.
 *
 * @example
 * const exts = await caExtensions({ publicKey: keys.publicKey, pathLength: 1 });
 */
export async function caExtensions(input: {
  publicKey: CryptoKey;
  pathLength: number;
  issuerPublicKey?: CryptoKey;
}): Promise<x509.Extension[]> {
  const exts: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, input.pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(input.publicKey),
  ];
  if (input.issuerPublicKey) exts.push(await x509.AuthorityKeyIdentifierExtension.create(input.issuerPublicKey));
  return exts;
}

/** What a leaf (end-entity) certificate names. */
export interface LeafNames {
  /** The one URI SAN (a SPIFFE ID). */
  uri: string;
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
}

/**
 * The extensions of an X.509-SVID leaf: critical CA:false, critical keyUsage digitalSignature, EKU serverAuth and
 * clientAuth, exactly one URI SAN plus DNS/IP SANs (critical, since the subject is empty), SKI and AKI.
 *
 * @example
 * const exts = await leafExtensions({ uri: 'spiffe://example.org/x', dnsNames: [], ipAddresses: [] }, pub, caPub);
 */
export async function leafExtensions(
  names: LeafNames,
  publicKey: CryptoKey,
  issuerPublicKey: CryptoKey,
): Promise<x509.Extension[]> {
  const san: x509.JsonGeneralName[] = [
    { type: 'url', value: names.uri },
    ...names.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...names.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ];
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
    new x509.SubjectAlternativeNameExtension(san, true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(issuerPublicKey),
  ];
}
