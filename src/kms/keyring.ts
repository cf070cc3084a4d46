import { silentLogger, type Clock, type Logger, type RecordStore, type StoredRecord } from '../core/index.js';
import { checkKeyName, checkKeyType, type KeyConfigChange, type KeyRecord, type KeyType } from './key_policy.js';
import { describeKey, type KeyInfo, type KeyMaterial } from './key_info.js';
import { KeyLifecycle } from './key_lifecycle.js';
import { KeyRecordCache, type KeyChangeListener } from './key_record_cache.js';
import { KeyUse } from './key_use.js';
import { ensureRootCheck, META_COLLECTION, ROOT_CHECK_KEY, type RootCheckRecord } from './root_check.js';
import type { RootKey } from './root_key.js';
import { KEYS_COLLECTION, loadKey } from './key_records.js';
import { GuardedWriter } from './guarded_writer.js';
import { listAll } from './paging.js';
import type { RootRotationCounts } from './root_rotation.js';
import { RootSealing } from './root_sealing.js';
import { Sealer, SealerRing } from './sealer.js';
import { SecretShelf } from './secrets.js';
import { DEFAULT_MAX_ENCRYPTIONS, DEFAULT_USAGE_BLOCK, UsageReservations } from './usage.js';

/** Options of {@link Keyring.open}. */
export interface KeyringOptions {
  store: RecordStore;
  root: RootKey;
  clock: Clock;
  logger?: Logger;
  /** Encryptions reserved durably at a time per version (config `keyring.usageBlock`, default 10,000). */
  usageBlock?: number;
  /** A version rotates before this many encryptions (config `keyring.maxEncryptionsPerVersion`, 0.9 × 2^32). */
  maxEncryptionsPerVersion?: number;
  /** Unsealed versions kept in memory (default 64). */
  cacheSize?: number;
  /**
   * How long a key's metadata read by `encryptionKey` / `decryptionKey` is reused (default 1000 ms). This process's own
   * changes take effect at once; another replica's rotation or min-version change takes effect here within this time.
   */
  metadataTtlMs?: number;
}

/**
 * The sealed keyring, root of every secret gatehouse keeps at rest: named keys with versions (Vault transit's
 * lifecycle rules), usage counted by durable block reservation with automatic rotation before the GCM limit, sealed
 * secrets for other modules, and root-key rotation in one atomic write. Material is sealed under the root key with
 * AES-256-GCM and never written, logged or returned except by `encryptionKey` / `decryptionKey` / `getSecret`.
 *
 * @example
 * const keyring = await Keyring.open({ store, root, clock, logger });
 * await keyring.createKey('orders');
 * const { version, key } = await keyring.encryptionKey('orders');
 */
export class Keyring {
  private readonly store: RecordStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly usage: UsageReservations;
  private readonly sealers: SealerRing;
  private readonly writer: GuardedWriter;
  private readonly secrets: SecretShelf;
  private readonly records: KeyRecordCache;
  private readonly root: RootSealing;
  private readonly keys: KeyLifecycle;
  private readonly use: KeyUse;

  private constructor(
    options: KeyringOptions,
    usage: UsageReservations,
    sealer: Sealer,
    check: StoredRecord<RootCheckRecord>,
  ) {
    this.store = options.store;
    this.clock = options.clock;
    this.logger = options.logger ?? silentLogger;
    this.usage = usage;
    this.records = new KeyRecordCache(this.clock, options.metadataTtlMs ?? 1000);
    this.sealers = new SealerRing(sealer);
    this.writer = new GuardedWriter(this.store, check, () => this.sealers.current.fingerprint);
    this.root = new RootSealing({
      store: this.store,
      clock: this.clock,
      logger: this.logger,
      sealers: this.sealers,
      writer: this.writer,
      switched: () => this.records.clear(),
    });
    this.secrets = new SecretShelf({
      store: this.store,
      clock: this.clock,
      sealers: this.sealers,
      writer: this.writer,
    });
    this.keys = new KeyLifecycle({
      store: this.store,
      clock: this.clock,
      logger: this.logger,
      writer: this.writer,
      records: this.records,
      sealers: this.sealers,
      forget: (name) => this.use.forget(name),
    });
    this.use = new KeyUse({
      store: this.store,
      records: this.records,
      usage,
      sealers: this.sealers,
      cacheSize: options.cacheSize ?? 64,
      rotateExhausted: (name, exhausted) => this.keys.rotateExhausted(name, exhausted),
    });
  }

  /**
   * Opens the keyring on `store` with `root`. The first open writes the root-check record; a later open with another
   * root key throws ERR_ROOT_KEY_WRONG before anything else happens.
   *
   * @example
   * const keyring = await Keyring.open({ store, root: RootKey.parse(text), clock: systemClock });
   */
  static async open(options: KeyringOptions): Promise<Keyring> {
    const usage = new UsageReservations(options.store, {
      block: options.usageBlock ?? DEFAULT_USAGE_BLOCK,
      max: options.maxEncryptionsPerVersion ?? DEFAULT_MAX_ENCRYPTIONS,
    });
    const sealer = new Sealer(options.root);
    const { created, record } = await ensureRootCheck(options.store, sealer, options.clock.now());
    const keyring = new Keyring(options, usage, sealer, record);
    if (created) {
      keyring.logger.info({ event: 'kms.keyring.initialized', root: sealer.fingerprint }, 'keyring initialized');
    }
    return keyring;
  }

  /**
   * True when `store` already holds a keyring (and so needs its root key).
   *
   * @example
   * if (await Keyring.isInitialized(store) && !rootKeyText) throw new GatehouseError('ERR_ROOT_KEY_MISSING');
   */
  static async isInitialized(store: RecordStore): Promise<boolean> {
    return (await store.get(META_COLLECTION, ROOT_CHECK_KEY)) !== undefined;
  }

  /** The fingerprint of the root key currently sealing new data. */
  rootFingerprint(): string {
    return this.sealers.current.fingerprint;
  }

  /** Creates a named key at version 1 (ERR_KMS_KEY_EXISTS if the name is taken, even by a deleted key). */
  async createKey(name: string, options: { type?: KeyType } = {}): Promise<KeyInfo> {
    checkKeyName(name);
    const type = checkKeyType(options.type ?? 'aes256-gcm96');
    return this.info(await this.keys.create(name, type));
  }

  /** Metadata of a key (ERR_KMS_KEY_NOT_FOUND when absent); deleted keys show `deleted: true`. */
  async getKey(name: string): Promise<KeyInfo> {
    return this.info(await loadKey(this.store, name));
  }

  /** Metadata of every key, deleted ones included, by name. */
  async listKeys(): Promise<KeyInfo[]> {
    const all = await listAll<KeyRecord>(this.store, KEYS_COLLECTION);
    return Promise.all(all.map((stored) => this.info(stored.value)));
  }

  /** Adds a new version, which becomes the one new encryptions use. */
  async rotateKey(name: string): Promise<KeyInfo> {
    return this.info(await this.keys.rotate(name));
  }

  /** Changes min_decryption_version, min_encryption_version or deletion_allowed (Vault's rules). */
  async configureKey(name: string, change: KeyConfigChange): Promise<KeyInfo> {
    return this.info(await this.keys.configure(name, change));
  }

  /** Soft-deletes a key whose deletion is allowed (ERR_KMS_DELETION_NOT_ALLOWED otherwise); nothing is destroyed. */
  async deleteKey(name: string): Promise<KeyInfo> {
    return this.info(await this.keys.delete(name));
  }

  /** Undoes a soft deletion. */
  async restoreKey(name: string): Promise<KeyInfo> {
    return this.info(await this.keys.restore(name));
  }

  /** Destroys the material of versions below `minAvailableVersion` (Vault's trim rules, ERR_KMS_TRIM_INVALID). */
  async trimKey(name: string, minAvailableVersion: number): Promise<KeyInfo> {
    return this.info(await this.keys.trim(name, minAvailableVersion));
  }

  /**
   * The version {@link encryptionKey} would use now without a `version`: the latest (ERR_KMS_KEY_DELETED,
   * ERR_KMS_KEY_NOT_FOUND). Reads the short-lived metadata cache (`metadataTtlMs`), never the material, and counts no
   * use: cheap enough to confirm a cached data key on every message.
   *
   * @example
   * if ((await keyring.currentVersion('orders')) !== cached.keyVersion) dropCached();
   */
  currentVersion(name: string): Promise<number> {
    return this.use.currentVersion(name);
  }

  /**
   * Calls `listener` with the key's name after every change this keyring attempts on a key (rotate, automatic
   * rotation, config, delete, restore, trim), whichever API made it, so caches of derived state can drop what the
   * change may have made stale. Changes made by another process are not seen here: readers of
   * {@link currentVersion} see them within `metadataTtlMs`. Returns the unsubscribe function.
   *
   * @example
   * const off = keyring.onKeyChange((name) => dataKeyCache.forgetKey(name));
   */
  onKeyChange(listener: KeyChangeListener): () => void {
    return this.records.onChange(listener);
  }

  /**
   * Material to encrypt with: the latest version (or `version`, if allowed), counting one use. A version that has
   * reached `maxEncryptionsPerVersion` is rotated automatically and the new one is used.
   */
  encryptionKey(name: string, options: { version?: number } = {}): Promise<KeyMaterial> {
    return this.use.encryptionKey(name, options);
  }

  /** Material to decrypt with: refuses unknown, trimmed and too-old versions and deleted keys. */
  decryptionKey(name: string, version: number): Promise<KeyMaterial> {
    return this.use.decryptionKey(name, version);
  }

  /** Seals and stores a secret for another module (replacing any previous value). */
  putSecret(name: string, value: Buffer): Promise<void> {
    return this.secrets.put(name, value);
  }

  /** The unsealed secret, or undefined when there is none. */
  getSecret(name: string): Promise<Buffer | undefined> {
    return this.secrets.get(name);
  }

  /** Removes a secret (no error when absent). */
  deleteSecret(name: string): Promise<void> {
    return this.secrets.delete(name);
  }

  /** Names of the secrets under `prefix` (all when empty), in byte order. */
  listSecrets(prefix = ''): Promise<string[]> {
    return this.secrets.list(prefix);
  }

  /**
   * Re-seals every key version, every secret and the root-check record under `newRoot` in one atomic write, then
   * seals new data with it (see {@link RootSealing.rotate}). A failure leaves everything as it was.
   */
  rotateRoot(newRoot: RootKey): Promise<RootRotationCounts> {
    return this.root.rotate(newRoot);
  }

  /**
   * The fingerprint of the root key the store is sealed under now: another process may have rotated it (then it is
   * not {@link rootFingerprint}, and this keyring cannot open what was re-sealed nor write until it adopts the key).
   */
  storedRootFingerprint(): Promise<string | undefined> {
    return this.root.storedFingerprint();
  }

  /**
   * Follows a root rotation made by another process (see {@link RootSealing.adopt}): false when `root` was already
   * current; ERR_ROOT_KEY_WRONG, changing nothing, when the store's root-check record does not open under it.
   *
   * @example
   * if ((await keyring.storedRootFingerprint()) === next.fingerprint()) await keyring.adoptRoot(next);
   */
  adoptRoot(root: RootKey): Promise<boolean> {
    return this.root.adopt(root);
  }

  /** Gives back unused usage reservations and wipes cached material. The store stays open (the caller owns it). */
  async close(): Promise<void> {
    await this.usage.release();
    this.use.clear();
    this.records.clear();
  }

  private info(rec: KeyRecord): Promise<KeyInfo> {
    return describeKey(rec, (name, version) => this.usage.reserved(`${name}:v${version}`));
  }
}
