import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { GatehouseError, makeDirectories, writeFileAtomic, type DataDirPaths } from '../core/index.js';

export { dataDirPaths, type DataDirPaths } from '../core/index.js';

/** The manifest is written last on first start: a data directory is initialized exactly when it exists. */
export interface Manifest {
  format: 1;
  createdAt: string;
  storage: 'sqlite' | 'postgres';
  rootKeySource: 'file' | 'external';
  rootKeyFingerprint: string;
}

/** Creates the directory (0700) if needed and refuses one that is not a directory or cannot be created. */
export function ensureDataDir(paths: DataDirPaths): void {
  if (existsSync(paths.dir)) {
    if (!statSync(paths.dir).isDirectory()) {
      throw new GatehouseError('ERR_DATADIR_INVALID', { message: `${paths.dir} exists and is not a directory` });
    }
    return;
  }
  try {
    makeDirectories(paths.dir, 0o700);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOTDIR'
        ? `${(err as NodeJS.ErrnoException).path ?? 'a parent'} is not a directory`
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? 'no permission'
          : code === 'ENOENT'
            ? 'directories cannot be created there'
            : (code ?? 'error');
    throw new GatehouseError('ERR_DATADIR_INVALID', {
      message: `cannot create the data directory ${paths.dir}: ${why}`,
    });
  }
  chmodSync(paths.dir, 0o700);
}

export function readManifest(paths: DataDirPaths): Manifest | undefined {
  let text: string;
  try {
    text = readFileSync(paths.manifest, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const manifest = JSON.parse(text) as Manifest;
    if (manifest.format !== 1) throw new Error('unknown format');
    return manifest;
  } catch {
    throw new GatehouseError('ERR_DATADIR_INVALID', {
      message: `${paths.manifest} is damaged (not a gatehouse manifest); restore it from a backup`,
    });
  }
}

/**
 * Refuses to start DIR on another kind of storage than the one it was initialized (or restored) on: started without
 * its PostgreSQL configuration, a directory restored into PostgreSQL would otherwise open an empty SQLite database
 * beside its manifest and fail on a missing admin token, leaving that database behind.
 *
 * @example
 * const manifest = readManifest(paths);
 * if (manifest) refuseOtherStorage(manifest, config, paths);
 */
export function refuseOtherStorage(manifest: Manifest, config: Config, paths: DataDirPaths): void {
  if (manifest.storage === config.storage.kind) return;
  throw new GatehouseError('ERR_CONFIG_INVALID', {
    message:
      `config: storage.kind: ${paths.dir} was initialized on ${manifest.storage} (${paths.manifest}), ` +
      `got "${config.storage.kind}": start it with the configuration it was made with (--config FILE or ` +
      `GATEHOUSE_STORAGE__KIND); to move it to other storage, restore a backup into a new directory`,
  });
}

export function writeManifest(paths: DataDirPaths, manifest: Manifest): void {
  writeFileAtomic(paths.manifest, JSON.stringify(manifest, null, 2) + '\n', 0o600);
}

/**
 * Removes what an interrupted first start may have left (staging directories and files that only a complete
 * initialization keeps). Never touches root.key: a key the user placed there, or one a crashed start created, is reused.
 * With `keepAdminToken` (storage outside the data directory, which may hold the admin token already) admin.token stays
 * too: the first start checks it against the stored digest.
 */
export function removeInitLeftovers(
  paths: DataDirPaths,
  extraFiles: readonly string[],
  options: { keepAdminToken?: boolean } = {},
): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(paths.dir)) {
    if (name.startsWith('.init-')) {
      rmSync(join(paths.dir, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  const files = [paths.trustBundle, paths.endpoints, ...extraFiles];
  if (options.keepAdminToken !== true) files.push(paths.adminToken);
  for (const file of files) {
    if (existsSync(file)) {
      rmSync(file, { force: true });
      removed.push(file);
    }
  }
  return removed;
}

/** Written by `gatehouse restore` before its first change outside its staging directory, removed after the manifest. */
const RESTORE_MARKER = 'restore.incomplete';

/**
 * Marks DIR as being restored into (`done: false`) or finished (`done: true`). A directory still marked after a
 * crashed restore is refused by `gatehouse up` and by the next restore ({@link refuseUnfinishedRestore}), instead of
 * being taken for an interrupted first start and initialized afresh over the restored files.
 *
 * @example
 * markRestore(paths, false); // ... load records, move files in, write the manifest ...; markRestore(paths, true);
 */
export function markRestore(paths: DataDirPaths, done: boolean): void {
  const marker = join(paths.dir, RESTORE_MARKER);
  if (done) rmSync(marker, { force: true });
  else writeFileAtomic(marker, 'a gatehouse restore into this directory has not finished\n', 0o600);
}

/**
 * ERR_DATADIR_INVALID when a restore into DIR did not finish.
 *
 * @example
 * refuseUnfinishedRestore(paths);
 */
export function refuseUnfinishedRestore(paths: DataDirPaths): void {
  if (!existsSync(join(paths.dir, RESTORE_MARKER))) return;
  throw new GatehouseError('ERR_DATADIR_INVALID', {
    message: `a gatehouse restore into ${paths.dir} did not finish: remove the directory (on PostgreSQL, drop the schema too) and run the restore again`,
  });
}
