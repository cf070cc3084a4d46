import { GatehouseError } from '../core/index.js';

/**
 * The archive format this code writes: 2 = format 1 plus `mac`, an HMAC of the manifest under a key derived from the
 * root key. Restore reads both (format 1 archives, written before, carry no MAC).
 */
export const BACKUP_FORMAT = 2;

/** manifest.json, the first entry of a backup archive. Never holds the root key or the admin token. */
export interface BackupManifest {
  format: 1 | 2;
  createdAt: string;
  trustDomain: string;
  /** The root key the sealed records need at the first start of the restored data directory. */
  rootKeyFingerprint: string;
  storage: 'sqlite' | 'postgres';
  counts: { records: number; counters: number; objects: number; objectBytes: number };
  /** SHA-256 (hex) of every other entry, by path. */
  entries: Record<string, string>;
  /** Format 2: HMAC-SHA256 (hex) of every field above (backup_mac.ts), under a key derived from the root key. */
  mac?: string;
}

/** Records a backup leaves out: the admin token's digest (a restore issues a new token). */
export const EXCLUDED_RECORDS: ReadonlyArray<{ collection: string; key: string }> = [
  { collection: 'admin', key: 'token' },
];

const OBJECT_ENTRY = /^objects\/[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\/[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

/**
 * Refuses an archive path that is not `manifest.json`, `records.jsonl` or `objects/<bucket>/<file>` with safe names
 * (no `..`, no absolute paths, no links): what a restore writes is exactly what the format allows.
 *
 * @example
 * checkEntryPath('objects/photos/ab12.x.obj');
 */
export function checkEntryPath(path: string): 'manifest' | 'records' | 'object' {
  if (path === 'manifest.json') return 'manifest';
  if (path === 'records.jsonl') return 'records';
  if (OBJECT_ENTRY.test(path)) return 'object';
  throw invalidBackup(`unexpected entry ${JSON.stringify(path.slice(0, 200))}`);
}

/**
 * Parses and checks manifest.json.
 *
 * @example
 * const manifest = parseBackupManifest(text);
 */
export function parseBackupManifest(text: string): BackupManifest {
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(text) as BackupManifest;
  } catch {
    throw invalidBackup('manifest.json is not JSON');
  }
  if (manifest?.format !== 1 && manifest?.format !== 2) throw invalidBackup('unknown format version');
  const counts = manifest.counts as Record<string, unknown> | undefined;
  if (
    typeof manifest.rootKeyFingerprint !== 'string' ||
    typeof manifest.entries !== 'object' ||
    manifest.entries === null ||
    typeof counts !== 'object' ||
    counts === null ||
    !['records', 'counters', 'objects', 'objectBytes'].every((k) => Number.isSafeInteger(counts[k]))
  ) {
    throw invalidBackup('manifest.json is incomplete');
  }
  if (manifest.format === 2 && (typeof manifest.mac !== 'string' || !/^[0-9a-f]{64}$/.test(manifest.mac))) {
    throw invalidBackup('manifest.json has no valid HMAC');
  }
  for (const [path, hash] of Object.entries(manifest.entries)) {
    if (checkEntryPath(path) === 'manifest' || !/^[0-9a-f]{64}$/.test(String(hash))) {
      throw invalidBackup('manifest.json lists a malformed entry');
    }
  }
  if (!manifest.entries['records.jsonl']) throw invalidBackup('manifest.json lists no records.jsonl');
  return manifest;
}

/**
 * ERR_BACKUP_INVALID with what is wrong (never any content of the archive).
 *
 * @example
 * throw invalidBackup('records.jsonl does not match its SHA-256');
 */
export function invalidBackup(what: string): GatehouseError {
  return new GatehouseError('ERR_BACKUP_INVALID', { message: `The backup archive is invalid: ${what}` });
}
