/**
 * The public state of the CA in the record store (collection `pki_authorities`): certificates, serials, validity and
 * the vault names of the sealed keys. Lists (not single fields) so that CA rotation can keep old and new side by side.
 */
export const AUTHORITY_COLLECTION = 'pki_authorities';

/** The one platform CA record. */
export const AUTHORITY_KEY = 'platform';

/** The record format; bumped only with a migration. */
export const AUTHORITY_FORMAT = 1;

/** One CA certificate as stored. */
export interface CaCertificateRecord {
  id: string;
  certPem: string;
  serialNumber: string;
  /** ms since the epoch */
  notBefore: number;
  /** ms since the epoch */
  notAfter: number;
  /** Vault name of its PKCS#8 DER key, e.g. `pki/root/<id>`. */
  keySecret: string;
}

/** An intermediate remembers the root that signed it. */
export interface IntermediateRecord extends CaCertificateRecord {
  rootId: string;
}

/** The stored value of the platform CA. */
export interface AuthorityRecord {
  format: number;
  trustDomain: string;
  createdAt: number;
  roots: CaCertificateRecord[];
  intermediates: IntermediateRecord[];
  /** The intermediate that signs new certificates. */
  activeIntermediateId: string;
  /** CA rotation: the prepared intermediate (already in `intermediates` and the bundle) and when it starts signing. */
  next?: { intermediateId: string; activateAt: number };
  /** CA rotation: former active intermediates, kept in the bundle until every leaf they signed has expired. */
  retiring?: Array<{ intermediateId: string; retireAt: number }>;
  /** The SPIFFE bundle's `spiffe_sequence`: grows by one on every change of the bundle (absent = 1). */
  bundleSequence?: number;
}

/**
 * Vault name of a root key.
 *
 * @example
 * rootKeySecret('Xq3c'); // 'pki/root/Xq3c'
 */
export function rootKeySecret(id: string): string {
  return `pki/root/${id}`;
}

/**
 * Vault name of an intermediate key.
 *
 * @example
 * intermediateKeySecret('Xq3c'); // 'pki/intermediate/Xq3c'
 */
export function intermediateKeySecret(id: string): string {
  return `pki/intermediate/${id}`;
}
