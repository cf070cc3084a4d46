import { createHmac } from 'node:crypto';
import { GatehouseError } from '../core/index.js';
import { constantTimeEqual, hkdfSha256 } from '../crypto/index.js';
import type { RootKey } from '../kms/index.js';
import { invalidBackup, type BackupManifest } from './backup_format.js';

/** HKDF info of the manifest MAC key: one purpose, one key (the sealer derives its own under another label). */
const MAC_KEY_INFO = 'backup manifest v1';

/**
 * The bytes the MAC covers: every manifest field but `mac`, in a fixed layout (entries sorted by path), so the MAC
 * does not depend on how the JSON text orders or spaces its keys.
 */
function macInput(manifest: BackupManifest): Buffer {
  const entries = Object.entries(manifest.entries).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const { records, counters, objects, objectBytes } = manifest.counts;
  const fields = [
    'gatehouse backup manifest',
    manifest.format,
    manifest.createdAt,
    manifest.trustDomain,
    manifest.rootKeyFingerprint,
    manifest.storage,
    [records, counters, objects, objectBytes],
    entries,
  ];
  return Buffer.from(JSON.stringify(fields), 'utf8');
}

/**
 * HMAC-SHA256 (hex) of a backup manifest under a key derived with HKDF from `root` (the key the archive's records are
 * sealed under): with the SHA-256 of every entry in the manifest, it authenticates the whole archive.
 *
 * @example
 * const manifest = { ...fields, mac: manifestMac(rootKey, fields) };
 */
export function manifestMac(root: RootKey, manifest: BackupManifest): string {
  const key = hkdfSha256(root.keyObject(), 'gatehouse root key', MAC_KEY_INFO);
  try {
    return createHmac('sha256', key).update(macInput(manifest)).digest('hex');
  } finally {
    key.fill(0);
  }
}

/**
 * Checks a manifest against `root`: ERR_ROOT_KEY_WRONG when `root` is not the key the manifest names; for format 2,
 * ERR_BACKUP_INVALID when the MAC is missing or does not verify (constant-time compare): the manifest (and so any
 * entry, whose SHA-256 it lists) was changed after the backup was written. A format-1 manifest has no MAC to check.
 *
 * @example
 * checkManifestMac(rootKey, manifest);
 */
export function checkManifestMac(root: RootKey, manifest: BackupManifest): void {
  if (root.fingerprint() !== manifest.rootKeyFingerprint) {
    throw new GatehouseError('ERR_ROOT_KEY_WRONG', {
      message: `the backup was taken under root key ${manifest.rootKeyFingerprint}, not ${root.fingerprint()}`,
    });
  }
  if (manifest.format === 1) return; // written before manifests were authenticated: nothing to verify
  if (manifest.mac === undefined) throw invalidBackup('manifest.json has no HMAC');
  if (!constantTimeEqual(manifestMac(root, manifest), manifest.mac)) {
    throw invalidBackup('manifest.json is not authentic (its HMAC does not verify under the root key)');
  }
}
