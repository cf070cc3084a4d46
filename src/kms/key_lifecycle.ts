import { GatehouseError, type Clock, type Logger, type RecordStore } from '../core/index.js';
import { randomKey } from '../crypto/index.js';
import {
  newKeyRecord,
  versionLabel,
  withConfig,
  withDeleted,
  withNewVersion,
  withRestored,
  withTrim,
  type KeyConfigChange,
  type KeyRecord,
  type KeyType,
} from './key_policy.js';
import type { KeyRecordCache } from './key_record_cache.js';
import { KEYS_COLLECTION, planKeyUpdate } from './key_records.js';
import type { GuardedWriter } from './guarded_writer.js';
import type { SealerRing } from './sealer.js';

/**
 * The lifecycle of named keys (Vault transit's rules): create, rotate (by request or when a version ran out of uses),
 * configure, soft-delete, restore and trim. Every change is a pure change of the stored record, written through the
 * keyring's guarded writer, announced to the key-change listeners and written to the audit log. A new version's
 * material is random, sealed under the root key and wiped. Callers check the name and type before a create.
 *
 * @example
 * const keys = new KeyLifecycle({ store, clock, logger, writer, records, sealers, forget: (name) => use.forget(name) });
 * const rec = await keys.rotate('orders');
 */
export class KeyLifecycle {
  constructor(
    private readonly o: {
      store: RecordStore;
      clock: Clock;
      logger: Logger;
      writer: GuardedWriter;
      records: KeyRecordCache;
      sealers: SealerRing;
      /** Forgets the cached material of key `name` (after a deletion or a trim). */
      forget: (name: string) => void;
    },
  ) {}

  /** Creates key `name` at version 1 (ERR_KMS_KEY_EXISTS if the name is taken, even by a deleted key). */
  async create(name: string, type: KeyType): Promise<KeyRecord> {
    const { store, clock, writer } = this.o;
    const rec = await writer.write(async () => {
      if (await store.get(KEYS_COLLECTION, name)) {
        throw new GatehouseError('ERR_KMS_KEY_EXISTS', { detail: `key ${name}` });
      }
      const value = newKeyRecord(name, type, clock.now(), this.sealNew(name, 1));
      return { ops: [{ op: 'insert', collection: KEYS_COLLECTION, key: name, value }], result: value };
    });
    this.audit('created', name, { type, version: 1 });
    return rec;
  }

  /** Adds a new version, which becomes the one new encryptions use. */
  async rotate(name: string): Promise<KeyRecord> {
    const rec = await this.mutate(name, (current) => this.rotated(current));
    this.audit('rotated', name, { version: rec.latestVersion });
    return rec;
  }

  /** Rotates a key whose latest version `exhausted` ran out of uses, unless another writer already did. */
  async rotateExhausted(name: string, exhausted: number): Promise<void> {
    let rotatedHere = false;
    const rec = await this.mutate(name, (current) => {
      rotatedHere = current.latestVersion === exhausted;
      return rotatedHere ? this.rotated(current) : current;
    });
    if (rotatedHere) this.audit('rotated', name, { version: rec.latestVersion, reason: 'usage limit' });
  }

  /** Changes min_decryption_version, min_encryption_version or deletion_allowed. */
  async configure(name: string, change: KeyConfigChange): Promise<KeyRecord> {
    const rec = await this.mutate(name, (current) => withConfig(current, change));
    this.audit('configured', name, {
      minDecryptionVersion: rec.minDecryptionVersion,
      minEncryptionVersion: rec.minEncryptionVersion,
      deletionAllowed: rec.deletionAllowed,
    });
    return rec;
  }

  /** Soft-deletes a key whose deletion is allowed, and forgets its cached material. */
  async delete(name: string): Promise<KeyRecord> {
    const rec = await this.mutate(name, (current) => withDeleted(current, this.o.clock.now()));
    this.o.forget(name);
    this.audit('deleted', name, {});
    return rec;
  }

  /** Undoes a soft deletion. */
  async restore(name: string): Promise<KeyRecord> {
    const rec = await this.mutate(name, (current) => withRestored(current));
    this.audit('restored', name, {});
    return rec;
  }

  /** Destroys the material of versions below `minAvailableVersion`, and forgets the key's cached material. */
  async trim(name: string, minAvailableVersion: number): Promise<KeyRecord> {
    const rec = await this.mutate(name, (current) => withTrim(current, minAvailableVersion));
    this.o.forget(name);
    this.audit('trimmed', name, { minAvailableVersion: rec.minAvailableVersion });
    return rec;
  }

  /**
   * Applies a pure change to a stored key (serialized, guarded by the root check, retried on conflicts), then tells
   * the change listeners, even when the write failed: a write whose outcome is unknown may have happened, and a
   * listener only drops cached state.
   */
  private mutate(name: string, change: (rec: KeyRecord) => KeyRecord): Promise<KeyRecord> {
    const { store, records, writer } = this.o;
    return records.changing(name, () => writer.write(() => planKeyUpdate(store, name, change)));
  }

  private rotated(rec: KeyRecord): KeyRecord {
    return withNewVersion(rec, this.o.clock.now(), this.sealNew(rec.name, rec.latestVersion + 1));
  }

  private sealNew(name: string, version: number): string {
    const material = randomKey();
    try {
      return this.o.sealers.seal(material, versionLabel(name, version));
    } finally {
      material.fill(0);
    }
  }

  private audit(action: string, name: string, fields: object): void {
    this.o.logger.info({ event: `kms.key.${action}`, key_name: name, ...fields }, `key ${action}`);
  }
}
