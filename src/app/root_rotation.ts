import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock, Logger } from '../core/index.js';
import { GatehouseError, fsyncDirectory, isGatehouseError, writeFileAtomic } from '../core/index.js';
import { RootKey } from '../kms/index.js';
import type { Config } from '../config/index.js';
import { openPlatformCore, type PlatformCore } from './compose.js';
import { readManifest, writeManifest, type DataDirPaths } from './data_dir.js';
import type { ResolvedRootKey } from './root_key_source.js';

/** Where a root rotation writes the next key, beside the current key file, until the re-seal commits. */
export function nextFileOf(file: string): string {
  return `${file}.next`;
}

/**
 * `gatehouse kms root rotate`: a new root key re-seals every secret in one atomic write. The new key is first written
 * beside the current key file as `<file>.next`; after the re-seal commits it replaces the file. A crash in between is
 * repaired at the next start by {@link openWithRootRecovery}. Root keys supplied through GATEHOUSE_ROOT_KEY cannot be
 * rotated by the server (it cannot write the environment): rotate them with a file instead.
 */
export async function rotateRootKey(options: {
  core: PlatformCore;
  rootKey: ResolvedRootKey;
  paths: DataDirPaths;
  logger: Logger;
}): Promise<{ fingerprint: string; resealed: unknown }> {
  const { core, rootKey, paths, logger } = options;
  const file = rootKey.file;
  if (!file) {
    throw new GatehouseError('ERR_ROOT_KEY_NOT_ROTATABLE', {
      message: 'the root key comes from GATEHOUSE_ROOT_KEY; start with --root-key-file FILE to let gatehouse rotate it',
    });
  }
  const next = RootKey.generate();
  const nextFile = nextFileOf(file);
  writeFileAtomic(nextFile, next.toText() + '\n', 0o600);
  const resealed = await core.keyring.rotateRoot(next);
  renameSync(nextFile, file);
  fsyncDirectory(dirname(file));
  rootKey.key = next;
  const manifest = readManifest(paths);
  if (manifest) writeManifest(paths, { ...manifest, rootKeyFingerprint: next.fingerprint() });
  logger.warn({ fingerprint: next.fingerprint() }, 'root key rotated: every secret is now sealed under the new key');
  return { fingerprint: next.fingerprint(), resealed };
}

/**
 * Opens the platform, finishing a root rotation that crashed between the re-seal and the file rename: when the
 * current key is refused and `<file>.next` opens the data, the next key is promoted; when the current key opens the
 * data, a stale `.next` (rotation that never committed) is removed. With `repair: false` (components started alone,
 * which never rotate: the `.next` may belong to a rotation that `gatehouse up` is running right now) the files are
 * left as they are and a `.next` that opens the data is only used.
 */
export async function openWithRootRecovery(options: {
  config: Config;
  rootKey: ResolvedRootKey;
  paths: DataDirPaths;
  clock: Clock;
  logger: Logger;
  /** See openPlatformCore: refuse a store no first start completed. */
  requireInitialized?: boolean;
  /** Remove a stale `.next`, promote a committed one (default true; false for components started alone). */
  repair?: boolean;
}): Promise<PlatformCore> {
  const { rootKey, logger } = options;
  const repair = options.repair ?? true;
  const nextFile = rootKey.file ? nextFileOf(rootKey.file) : undefined;
  try {
    const core = await openPlatformCore(options);
    if (repair && nextFile && existsSync(nextFile)) {
      rmSync(nextFile, { force: true });
      logger.warn({ file: nextFile }, 'removed the key of a root rotation that never committed');
    }
    return core;
  } catch (err) {
    if (!isGatehouseError(err, 'ERR_ROOT_KEY_WRONG') || !nextFile || !existsSync(nextFile)) throw err;
    const next = RootKey.parse(readFileSync(nextFile, 'utf8'));
    const core = await openPlatformCore({ ...options, rootKey: { ...rootKey, key: next } });
    rootKey.key = next;
    if (!repair) {
      logger.warn(
        { file: rootKey.file },
        'the root key file holds the key before a rotation and its .next opens the data: using it; gatehouse up finishes the rotation at its next start',
      );
      return core;
    }
    renameSync(nextFile, rootKey.file as string);
    fsyncDirectory(dirname(nextFile));
    const manifest = readManifest(options.paths);
    if (manifest) writeManifest(options.paths, { ...manifest, rootKeyFingerprint: next.fingerprint() });
    logger.warn({ file: rootKey.file }, 'finished an interrupted root key rotation');
    return core;
  }
}
