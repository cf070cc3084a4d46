import { GatehouseError } from '../core/index.js';
import type { AeadAlgorithm } from '../crypto/index.js';

/** The named-key types (Vault transit's names). */
export type KeyType = 'aes256-gcm96' | 'chacha20-poly1305';

/** Every supported key type, and the AEAD each one uses (all take 32-byte keys). */
export const KEY_TYPES: Readonly<Record<KeyType, AeadAlgorithm>> = {
  'aes256-gcm96': 'aes-256-gcm',
  'chacha20-poly1305': 'chacha20-poly1305',
};

const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** One version of a named key as stored: its material is sealed under the root key. */
export interface KeyVersionRecord {
  createdAt: number;
  sealed: string;
}

/** A named key as stored in `kms_keys` (one record per key, versions inside). */
export interface KeyRecord {
  name: string;
  type: KeyType;
  createdAt: number;
  latestVersion: number;
  /** Versions below this one no longer decrypt (at least 1). */
  minDecryptionVersion: number;
  /** Callers may not pick a version below this one to encrypt; 0 means no floor (the latest is always used). */
  minEncryptionVersion: number;
  /** Versions below this one were trimmed: their material is gone. */
  minAvailableVersion: number;
  deletionAllowed: boolean;
  /** Soft deletion time, or null while the key is live. */
  deletedAt: number | null;
  versions: Record<string, KeyVersionRecord>;
}

/** The settings `configureKey` may change (Vault's `POST /keys/:name/config`). */
export interface KeyConfigChange {
  minDecryptionVersion?: number;
  minEncryptionVersion?: number;
  deletionAllowed?: boolean;
}

/**
 * Checks a key name: 1-128 letters, digits, `.`, `_`, `-`, starting with a letter or digit (ERR_KMS_KEY_NAME_INVALID).
 *
 * @example
 * checkKeyName('orders-2026');
 */
export function checkKeyName(name: string): void {
  if (typeof name !== 'string' || !KEY_NAME.test(name)) throw new GatehouseError('ERR_KMS_KEY_NAME_INVALID');
}

/**
 * Checks a key type (ERR_KMS_KEY_TYPE_UNSUPPORTED) and returns it typed.
 *
 * @example
 * const type = checkKeyType(body.type ?? 'aes256-gcm96');
 */
export function checkKeyType(type: string): KeyType {
  if (!Object.hasOwn(KEY_TYPES, type)) throw new GatehouseError('ERR_KMS_KEY_TYPE_UNSUPPORTED');
  return type as KeyType;
}

/**
 * A new key record holding version 1.
 *
 * @example
 * const rec = newKeyRecord('orders', 'aes256-gcm96', clock.now(), sealer.seal(material, versionLabel('orders', 1)));
 */
export function newKeyRecord(name: string, type: KeyType, now: number, sealedV1: string): KeyRecord {
  return {
    name,
    type,
    createdAt: now,
    latestVersion: 1,
    minDecryptionVersion: 1,
    minEncryptionVersion: 0,
    minAvailableVersion: 1,
    deletionAllowed: false,
    deletedAt: null,
    versions: { '1': { createdAt: now, sealed: sealedV1 } },
  };
}

/**
 * The seal label of a key version: binds sealed material to its key name and version.
 *
 * @example
 * versionLabel('orders', 3); // 'kms_key:orders:v3'
 */
export function versionLabel(name: string, version: number): string {
  return `kms_key:${name}:v${version}`;
}

/**
 * Throws ERR_KMS_KEY_DELETED for a soft-deleted key.
 *
 * @example
 * assertLive(rec); // before handing out material
 */
export function assertLive(rec: KeyRecord): void {
  if (rec.deletedAt !== null) throw new GatehouseError('ERR_KMS_KEY_DELETED', { detail: `key ${rec.name}` });
}

/**
 * The record with one more version (its material sealed by the caller for `rec.latestVersion + 1`).
 *
 * @example
 * const next = withNewVersion(rec, clock.now(), sealer.seal(randomKey(), versionLabel(rec.name, rec.latestVersion + 1)));
 */
export function withNewVersion(rec: KeyRecord, now: number, sealed: string): KeyRecord {
  assertLive(rec);
  const version = rec.latestVersion + 1;
  return { ...rec, latestVersion: version, versions: { ...rec.versions, [version]: { createdAt: now, sealed } } };
}

function configInvalid(message: string): GatehouseError {
  return new GatehouseError('ERR_KMS_CONFIG_INVALID', { message: `Invalid key configuration: ${message}` });
}

function checkInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw configInvalid(`${what} must be a non-negative integer`);
}

/**
 * Applies a configuration change with Vault's rules: min_decryption_version 0 means 1, neither minimum may exceed the
 * latest version, min_decryption_version may not go below trimmed versions, and min_encryption_version must be 0 or
 * at least min_decryption_version (ERR_KMS_CONFIG_INVALID).
 *
 * @example
 * const next = withConfig(rec, { minDecryptionVersion: 2, deletionAllowed: true });
 */
export function withConfig(rec: KeyRecord, change: KeyConfigChange): KeyRecord {
  assertLive(rec);
  const next = { ...rec };
  if (change.minDecryptionVersion !== undefined) {
    checkInteger(change.minDecryptionVersion, 'min_decryption_version');
    next.minDecryptionVersion = Math.max(1, change.minDecryptionVersion);
    if (next.minDecryptionVersion < rec.minAvailableVersion) {
      throw configInvalid('min_decryption_version is below the trimmed versions');
    }
  }
  if (change.minEncryptionVersion !== undefined) {
    checkInteger(change.minEncryptionVersion, 'min_encryption_version');
    next.minEncryptionVersion = change.minEncryptionVersion;
  }
  if (change.deletionAllowed !== undefined) {
    if (typeof change.deletionAllowed !== 'boolean') throw configInvalid('deletion_allowed must be a boolean');
    next.deletionAllowed = change.deletionAllowed;
  }
  if (next.minDecryptionVersion > next.latestVersion) {
    throw configInvalid('min_decryption_version exceeds the latest version');
  }
  if (next.minEncryptionVersion > next.latestVersion) {
    throw configInvalid('min_encryption_version exceeds the latest version');
  }
  if (next.minEncryptionVersion > 0 && next.minEncryptionVersion < next.minDecryptionVersion) {
    throw configInvalid('min_encryption_version must be 0 or at least min_decryption_version');
  }
  return next;
}

function trimInvalid(message: string): GatehouseError {
  return new GatehouseError('ERR_KMS_TRIM_INVALID', { message: `Cannot trim: ${message}` });
}

/**
 * Drops the material of versions below `minAvailableVersion`, with Vault's rules: both minimums must be set
 * (min_encryption_version not 0), the new floor may not exceed either minimum and may not go down
 * (ERR_KMS_TRIM_INVALID).
 *
 * @example
 * const next = withTrim(rec, 3); // versions 1 and 2 are gone for good
 */
export function withTrim(rec: KeyRecord, minAvailableVersion: number): KeyRecord {
  assertLive(rec);
  if (!Number.isSafeInteger(minAvailableVersion) || minAvailableVersion < 1) {
    throw trimInvalid('the minimum available version must be a positive integer');
  }
  if (minAvailableVersion < rec.minAvailableVersion) throw trimInvalid('the minimum available version cannot go down');
  if (rec.minEncryptionVersion === 0) throw trimInvalid('set min_encryption_version first');
  if (minAvailableVersion > rec.minEncryptionVersion) throw trimInvalid('versions still allowed for encryption');
  if (minAvailableVersion > rec.minDecryptionVersion) throw trimInvalid('versions still allowed for decryption');
  const versions = Object.fromEntries(
    Object.entries(rec.versions).filter(([version]) => Number(version) >= minAvailableVersion),
  );
  return { ...rec, minAvailableVersion, versions };
}

/**
 * Soft-deletes the key; ERR_KMS_DELETION_NOT_ALLOWED unless deletion_allowed is set. Deleting twice changes nothing.
 *
 * @example
 * const deleted = withDeleted(withConfig(rec, { deletionAllowed: true }), clock.now());
 */
export function withDeleted(rec: KeyRecord, now: number): KeyRecord {
  if (rec.deletedAt !== null) return rec;
  if (!rec.deletionAllowed) throw new GatehouseError('ERR_KMS_DELETION_NOT_ALLOWED', { detail: `key ${rec.name}` });
  return { ...rec, deletedAt: now };
}

/**
 * Undoes a soft deletion (a live key is returned unchanged).
 *
 * @example
 * const live = withRestored(deleted);
 */
export function withRestored(rec: KeyRecord): KeyRecord {
  return rec.deletedAt === null ? rec : { ...rec, deletedAt: null };
}

function versionInvalid(rec: KeyRecord, version: number, why: string): GatehouseError {
  return new GatehouseError('ERR_KMS_VERSION_INVALID', { detail: `key ${rec.name} v${version}: ${why}` });
}

/**
 * The version to encrypt with: the latest, or `requested` when it is at least every minimum and exists
 * (ERR_KMS_VERSION_INVALID otherwise).
 *
 * @example
 * encryptionVersion(rec); // rec.latestVersion
 */
export function encryptionVersion(rec: KeyRecord, requested?: number): number {
  assertLive(rec);
  if (requested === undefined) return rec.latestVersion;
  const floor = Math.max(rec.minEncryptionVersion, rec.minDecryptionVersion, rec.minAvailableVersion);
  if (!Number.isSafeInteger(requested) || requested < floor || requested > rec.latestVersion) {
    throw versionInvalid(rec, requested, 'not allowed for encryption');
  }
  return requested;
}

/**
 * Checks that `version` may decrypt: it exists, and is at least min_decryption_version (ERR_KMS_VERSION_INVALID).
 *
 * @example
 * checkDecryptionVersion(rec, 2);
 */
export function checkDecryptionVersion(rec: KeyRecord, version: number): void {
  assertLive(rec);
  if (!Number.isSafeInteger(version) || version < rec.minDecryptionVersion || !Object.hasOwn(rec.versions, version)) {
    throw versionInvalid(rec, version, 'not allowed for decryption');
  }
}
