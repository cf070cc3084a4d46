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

/** What an OAuth2 access token presented to `POST /v1/ca/sign` proves. */
export interface BootstrapGrant {
  clientId: string;
  /** The SPIFFE IDs this client may hold. */
  allowedSpiffeIds: readonly string[];
}

/**
 * Verifies an access token from our identity server as a CA bootstrap credential. Declared here (pki cannot import
 * identity); app/compose.ts wires the identity implementation. Throws a GatehouseError when the token is not valid.
 *
 * @example
 * const grant = await verifier.verify(bearerToken); // { clientId: 'billing', allowedSpiffeIds: [...] }
 */
export interface BootstrapTokenVerifier {
  verify(accessToken: string): Promise<BootstrapGrant>;
}
