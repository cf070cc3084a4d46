import type { KeyMaterial } from '../key_info.js';

/**
 * What envelopes need from a keyring: material to wrap new data keys with (the current version, counting one use),
 * material of a named version to unwrap with (refusing unknown, too-old or deleted versions with ERR_KMS_*), and, for
 * the data-key cache, the version new data keys must be wrapped under now and a hook told of every key change. The
 * Keyring implements it; tests may use the real Keyring on a MemoryRecordStore.
 *
 * @example
 * const envelopes = new Envelopes({ keys: keyring, clock });
 */
export interface KeyMaterialSource {
  encryptionKey(name: string): Promise<KeyMaterial>;
  decryptionKey(name: string, version: number): Promise<KeyMaterial>;
  /** The version `encryptionKey(name)` would use now, without counting a use (ERR_KMS_KEY_DELETED, ...). Cheap. */
  currentVersion(name: string): Promise<number>;
  /** Calls `listener(name)` after each change to a key; returns the unsubscribe function. */
  onKeyChange(listener: (name: string) => void): () => void;
}
