import type { KeyRecord, KeyType } from './key_policy.js';

/** Metadata of one key version: never its material. */
export interface KeyVersionInfo {
  version: number;
  createdAt: number;
  /** Encryptions reserved for this version: at least the true count, at most one usage block above it per process. */
  encryptions: number;
}

/** Metadata of a named key: never its material. */
export interface KeyInfo {
  name: string;
  type: KeyType;
  createdAt: number;
  latestVersion: number;
  minDecryptionVersion: number;
  minEncryptionVersion: number;
  minAvailableVersion: number;
  deletionAllowed: boolean;
  deleted: boolean;
  deletedAt: number | null;
  versions: KeyVersionInfo[];
}

/** Unsealed material of one key version, for the KMS encryption layer only. Wipe `key` after use. */
export interface KeyMaterial {
  name: string;
  version: number;
  type: KeyType;
  key: Buffer;
}

/**
 * The public metadata of a stored key (sealed material left out), with each version's encryption count.
 *
 * @example
 * const info = await describeKey(rec, (name, version) => usage.reserved(`${name}:v${version}`));
 */
export async function describeKey(
  rec: KeyRecord,
  encryptionsOf: (name: string, version: number) => Promise<number>,
): Promise<KeyInfo> {
  const versions = await Promise.all(
    Object.entries(rec.versions).map(async ([v, stored]) => ({
      version: Number(v),
      createdAt: stored.createdAt,
      encryptions: await encryptionsOf(rec.name, Number(v)),
    })),
  );
  return {
    name: rec.name,
    type: rec.type,
    createdAt: rec.createdAt,
    latestVersion: rec.latestVersion,
    minDecryptionVersion: rec.minDecryptionVersion,
    minEncryptionVersion: rec.minEncryptionVersion,
    minAvailableVersion: rec.minAvailableVersion,
    deletionAllowed: rec.deletionAllowed,
    deleted: rec.deletedAt !== null,
    deletedAt: rec.deletedAt,
    versions: versions.sort((a, b) => a.version - b.version),
  };
}
