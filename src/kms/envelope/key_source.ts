import type { KeyMaterial } from '../key_info.js';

/**
 * What envelopes need from a keyring: material to wrap new data keys with (the current version, counting one use) and
 * material of a named version to unwrap with (refusing unknown, too-old or deleted versions with ERR_KMS_*). The
 * Keyring implements it; tests may use the real Keyring on a MemoryRecordStore.
 *
 * @example
 * const envelopes = new Envelopes({ keys: keyring, clock });
 */
export interface KeyMaterialSource {
  encryptionKey(name: string): Promise<KeyMaterial>;
  decryptionKey(name: string, version: number): Promise<KeyMaterial>;
}
