import { X509Certificate as NodeX509Certificate, createPrivateKey } from 'node:crypto';
import { GatehouseError } from '../core/index.js';
import { importSigningKey, publicSpkiOf, type CryptoKey } from './keys.js';
import type { SecretVault } from './ports.js';
import { svidSigner, type SvidSigner } from './svid_issue.js';
import { AUTHORITY_FORMAT, type AuthorityRecord, type CaCertificateRecord } from './state.js';
import { x509 } from './x509.js';

/** A stored CA certificate, parsed. */
export interface LoadedCa {
  record: CaCertificateRecord;
  certificate: x509.X509Certificate;
}

/** The CA ready to sign: every certificate parsed and checked, the active intermediate's key imported. */
export interface LoadedAuthority {
  trustDomain: string;
  roots: LoadedCa[];
  intermediates: LoadedCa[];
  active: LoadedCa & { rootId: string; privateKey: CryptoKey; signer: SvidSigner };
}

function invalid(detail: string): GatehouseError {
  return new GatehouseError('ERR_PKI_CA_INVALID', { detail });
}

async function checkedKey(vault: SecretVault, record: CaCertificateRecord, cert: NodeX509Certificate): Promise<Buffer> {
  const der = await vault.getSecret(record.keySecret);
  if (!der) throw invalid(`the vault has no key ${record.keySecret}`);
  let spki: Buffer;
  try {
    spki = publicSpkiOf(der);
  } catch {
    throw invalid(`the vault key ${record.keySecret} is not a PKCS#8 private key`);
  }
  if (!spki.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))) {
    throw invalid(`the vault key ${record.keySecret} does not match certificate ${record.serialNumber}`);
  }
  return der;
}

/**
 * Loads the stored CA and refuses anything inconsistent (ERR_PKI_CA_INVALID): another trust domain, an unknown
 * format, a missing or mismatching vault key, an intermediate not signed by its root, or an expired active
 * intermediate or root.
 *
 * @example
 * const loaded = await loadAuthority({ record, vault, trustDomain, now: clock.now() });
 */
export async function loadAuthority(input: {
  record: AuthorityRecord;
  vault: SecretVault;
  trustDomain: string;
  now: number;
}): Promise<LoadedAuthority> {
  const { record, vault, now } = input;
  if (record.format !== AUTHORITY_FORMAT) throw invalid(`unknown CA record format ${String(record.format)}`);
  if (record.trustDomain !== input.trustDomain) {
    throw new GatehouseError('ERR_PKI_CA_INVALID', {
      message: `The stored CA belongs to trust domain ${record.trustDomain}, not ${input.trustDomain}`,
    });
  }
  const nodeCerts = new Map<string, NodeX509Certificate>();
  for (const ca of [...record.roots, ...record.intermediates])
    nodeCerts.set(ca.id, new NodeX509Certificate(ca.certPem));
  for (const root of record.roots) {
    const cert = nodeCerts.get(root.id) as NodeX509Certificate;
    if (!cert.ca || !cert.checkIssued(cert) || !cert.verify(cert.publicKey))
      throw invalid(`root ${root.id} is not a self-signed CA`);
    await checkedKey(vault, root, cert);
  }
  for (const intermediate of record.intermediates) {
    const cert = nodeCerts.get(intermediate.id) as NodeX509Certificate;
    const root = record.roots.find((r) => r.id === intermediate.rootId);
    const rootCert = root && nodeCerts.get(root.id);
    if (!rootCert || !cert.ca || !cert.checkIssued(rootCert) || !cert.verify(rootCert.publicKey)) {
      throw invalid(`intermediate ${intermediate.id} is not signed by a stored root`);
    }
  }
  const activeRecord = record.intermediates.find((i) => i.id === record.activeIntermediateId);
  if (!activeRecord) throw invalid('no active intermediate');
  const activeRoot = record.roots.find((r) => r.id === activeRecord.rootId) as CaCertificateRecord;
  if (activeRecord.notAfter <= now)
    throw invalid(`the active intermediate expired at ${new Date(activeRecord.notAfter).toISOString()}`);
  if (activeRoot.notAfter <= now) throw invalid(`the root expired at ${new Date(activeRoot.notAfter).toISOString()}`);
  const der = await checkedKey(vault, activeRecord, nodeCerts.get(activeRecord.id) as NodeX509Certificate);
  const parse = (ca: CaCertificateRecord): LoadedCa => ({
    record: ca,
    certificate: new x509.X509Certificate(ca.certPem),
  });
  const active = parse(activeRecord);
  return {
    trustDomain: record.trustDomain,
    roots: record.roots.map(parse),
    intermediates: record.intermediates.map(parse),
    active: {
      ...active,
      rootId: activeRecord.rootId,
      privateKey: await importSigningKey(der),
      signer: svidSigner(
        Buffer.from(active.certificate.rawData),
        createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }),
      ),
    },
  };
}
