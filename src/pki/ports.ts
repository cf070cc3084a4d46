import type { RecordStore } from '../core/index.js';

/**
 * Where the CA keeps its private keys: sealed at rest by the keyring (app wires it). Values are PKCS#8 DER.
 *
 * @example
 * await vault.putSecret('pki/root/3fa9', pkcs8Der);
 * const der = await vault.getSecret('pki/root/3fa9');
 */
export interface SecretVault {
  putSecret(name: string, value: Buffer): Promise<void>;
  getSecret(name: string): Promise<Buffer | undefined>;
}

/** The public CA state (certificates, serials, validity) lives in the shared record store. */
export type PkiRecordStore = RecordStore;
