/**
 * Where signing private keys live: sealed secrets in the KMS keyring (`Keyring.putSecret/getSecret/deleteSecret`
 * satisfy it). Identity declares this narrow port; app/compose wires the keyring in.
 *
 * @example
 * const vault: SealedSecrets = keyring;
 */
export interface SealedSecrets {
  putSecret(name: string, value: Buffer): Promise<void>;
  getSecret(name: string): Promise<Buffer | undefined>;
  deleteSecret(name: string): Promise<void>;
}
