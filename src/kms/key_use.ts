import { GatehouseError, type RecordStore } from '../core/index.js';
import { checkDecryptionVersion, encryptionVersion, versionLabel, type KeyRecord } from './key_policy.js';
import type { KeyMaterial } from './key_info.js';
import type { KeyRecordCache } from './key_record_cache.js';
import { loadKey } from './key_records.js';
import { MaterialCache } from './material_cache.js';
import type { SealerRing } from './sealer.js';
import type { UsageReservations } from './usage.js';

const MAX_ATTEMPTS = 5;

/**
 * The encrypt/decrypt hot path of the keyring: key records read through the short-lived record cache, one use counted
 * per encryption (a version that reached its limit is rotated through `rotateExhausted` and the new one is used), and
 * unsealed version material kept in a bounded cache so that hot versions are not unsealed on every use.
 *
 * @example
 * const use = new KeyUse({ store, records, usage, sealers, cacheSize: 64, rotateExhausted });
 * const { version, key } = await use.encryptionKey('orders');
 */
export class KeyUse {
  private readonly cache: MaterialCache;

  constructor(
    private readonly o: {
      store: RecordStore;
      records: KeyRecordCache;
      usage: UsageReservations;
      sealers: SealerRing;
      cacheSize: number;
      /** Rotates key `name` when its latest version is still `exhausted`. */
      rotateExhausted: (name: string, exhausted: number) => Promise<void>;
    },
  ) {
    this.cache = new MaterialCache(o.cacheSize);
  }

  /** The version an encryption without `version` would use now, counting no use. */
  async currentVersion(name: string): Promise<number> {
    return encryptionVersion(await this.hotRecord(name));
  }

  /** Material to encrypt with (the latest version, or `version` if allowed), counting one use. */
  async encryptionKey(name: string, options: { version?: number } = {}): Promise<KeyMaterial> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const rec = await this.hotRecord(name);
      const version = encryptionVersion(rec, options.version);
      if (await this.o.usage.take(`${name}:v${version}`)) return this.material(rec, version);
      if (options.version !== undefined) {
        throw new GatehouseError('ERR_KMS_VERSION_INVALID', { detail: `key ${name} v${version}: usage limit reached` });
      }
      await this.o.rotateExhausted(name, version);
    }
    throw new GatehouseError('ERR_INTERNAL', { detail: `key ${name}: no usable version after rotation` });
  }

  /** Material to decrypt with: refuses unknown, trimmed and too-old versions and deleted keys. */
  async decryptionKey(name: string, version: number): Promise<KeyMaterial> {
    const rec = await this.hotRecord(name);
    checkDecryptionVersion(rec, version);
    return this.material(rec, version);
  }

  /** Forgets (and wipes) the cached material of every version of key `name`. */
  forget(name: string): void {
    this.cache.clear(`${name}:`);
  }

  /** Forgets (and wipes) all cached material. */
  clear(): void {
    this.cache.clear();
  }

  /** The key record for the encrypt/decrypt hot path (see {@link KeyRecordCache}). */
  private hotRecord(name: string): Promise<KeyRecord> {
    return this.o.records.read(name, () => loadKey(this.o.store, name));
  }

  private material(rec: KeyRecord, version: number): KeyMaterial {
    const id = `${rec.name}:v${version}`;
    let key = this.cache.get(id);
    if (!key) {
      const stored = rec.versions[version];
      if (!stored) throw new GatehouseError('ERR_KMS_VERSION_INVALID', { detail: `key ${rec.name} v${version}` });
      key = this.o.sealers.open(stored.sealed, versionLabel(rec.name, version));
      this.cache.put(id, key);
    }
    return { name: rec.name, version, type: rec.type, key };
  }
}
