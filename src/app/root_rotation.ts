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
 * The lease a root rotation holds from writing `<file>.next` until it renamed it: one rotation at a time across the
 * replicas of a storage, and no start repairs the `.next` of a rotation in progress.
 */
export const ROOT_ROTATION_LEASE = 'root-key-rotation';

/** Records the root key `key` in the data directory's manifest (the fingerprint a missing key is reported with). */
export function recordInManifest(paths: DataDirPaths, key: RootKey): void {
  const manifest = readManifest(paths);
  if (manifest && manifest.rootKeyFingerprint !== key.fingerprint()) {
    writeManifest(paths, { ...manifest, rootKeyFingerprint: key.fingerprint() });
  }
}

/** Renames a committed rotation's `.next` over the key file and makes `next` this process's root key. */
function promoteNextFile(rootKey: ResolvedRootKey, next: RootKey, paths: DataDirPaths): void {
  const file = rootKey.file as string;
  renameSync(nextFileOf(file), file);
  fsyncDirectory(dirname(file));
  rootKey.key = next;
  recordInManifest(paths, next);
}

/**
 * `gatehouse kms root rotate`: a new root key re-seals every secret in one atomic write. Under the
 * {@link ROOT_ROTATION_LEASE} (ERR_LEASE_HELD while another replica rotates), the new key is first written beside the
 * current key file as `<file>.next`; after the re-seal commits this process, and only it, renames it over the file.
 * When the re-seal certainly did not commit, the `.next` is removed; when it committed though the store reported a
 * failure, the rotation is finished here; when the store cannot tell, the `.next` stays and the next start of
 * `gatehouse up` settles it ({@link openWithRootRecovery}). A process that has not adopted a rotation made elsewhere
 * refuses to rotate (ERR_ROOT_KEY_NOT_HELD). Root keys supplied through GATEHOUSE_ROOT_KEY cannot be rotated by the
 * server (it cannot write the environment): rotate them with a file instead.
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
  const lease = await core.leases.tryAcquire(ROOT_ROTATION_LEASE);
  if (!lease) {
    throw new GatehouseError('ERR_LEASE_HELD', {
      message: 'another root key rotation is running on this storage: wait for it to finish',
    });
  }
  try {
    const previous = core.keyring.rootFingerprint();
    if ((await core.keyring.storedRootFingerprint()) !== previous) {
      throw new GatehouseError('ERR_ROOT_KEY_NOT_HELD', {
        message:
          'the root key was rotated by another process and this one has not adopted the new key yet: put it in the root key file (it is re-read every 5 s and on SIGHUP), then rotate again if needed',
      });
    }
    const next = RootKey.generate();
    const nextFile = nextFileOf(file);
    writeFileAtomic(nextFile, next.toText() + '\n', 0o600);
    let resealed: unknown;
    try {
      resealed = await core.keyring.rotateRoot(next);
    } catch (err) {
      // A write may commit although it reported a failure (a connection lost on COMMIT): the store says which.
      const stored = await core.keyring.storedRootFingerprint().catch(() => undefined);
      if (stored === previous) {
        rmSync(nextFile, { force: true });
        throw err;
      }
      if (stored !== next.fingerprint()) {
        logger.error(
          { event: 'root_rotation_unknown', file: nextFile, reason: (err as Error).message },
          'root key rotation failed and the store cannot tell whether it committed: the .next file is kept; the next start of gatehouse up settles it',
        );
        throw err;
      }
      await core.keyring.adoptRoot(next);
      logger.warn(
        { reason: (err as Error).message },
        'the root key re-seal committed although the store reported an error',
      );
      resealed = null;
    }
    promoteNextFile(rootKey, next, paths);
    logger.warn({ fingerprint: next.fingerprint() }, 'root key rotated: every secret is now sealed under the new key');
    return { fingerprint: next.fingerprint(), resealed };
  } finally {
    await lease.release();
  }
}

/**
 * `gatehouse up` at start, when the key file has a `.next`: under the {@link ROOT_ROTATION_LEASE} (left alone while
 * another replica holds it: that rotation renames its own file), removes a `.next` that never committed (the store is
 * sealed under this process's key) and finishes one that did (renamed over the key file, adopted). A `.next` naming
 * neither is left in place. Never fails the start: a repair that cannot run is logged and the files stay.
 */
async function settleNextFile(core: PlatformCore, rootKey: ResolvedRootKey, paths: DataDirPaths, logger: Logger) {
  const nextFile = nextFileOf(rootKey.file as string);
  try {
    const lease = await core.leases.tryAcquire(ROOT_ROTATION_LEASE);
    if (!lease) {
      logger.warn(
        { file: nextFile },
        'a root key rotation is running in another process: its .next file is left to it',
      );
      return;
    }
    try {
      if (!existsSync(nextFile)) return; // that rotation finished meanwhile
      const next = RootKey.parse(readFileSync(nextFile, 'utf8'));
      const stored = await core.keyring.storedRootFingerprint();
      if (stored === next.fingerprint()) {
        if (core.keyring.rootFingerprint() !== stored) await core.keyring.adoptRoot(next);
        promoteNextFile(rootKey, next, paths);
        logger.warn({ file: rootKey.file }, 'finished an interrupted root key rotation');
      } else if (stored === core.keyring.rootFingerprint()) {
        rmSync(nextFile, { force: true });
        logger.warn({ file: nextFile }, 'removed the key of a root rotation that never committed');
      }
    } finally {
      await lease.release();
    }
  } catch (err) {
    logger.error(
      { event: 'root_rotation_repair_failed', file: nextFile, reason: (err as Error).message },
      'could not settle the .next file of a root key rotation: left in place',
    );
  }
}

/**
 * Opens the platform, settling a root rotation that crashed between writing `<file>.next` and renaming it: when the
 * current key is refused and the `.next` opens the data, it is used; with `repair` (gatehouse up) the `.next` is then
 * renamed over the key file, or removed when the data is sealed under the current key (a rotation that never
 * committed), both under the rotation lease so that a rotation running in another replica is never disturbed. With
 * `repair: false` (components started alone, which never rotate) the files are left as they are and a `.next` that
 * opens the data is only used.
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
  let core: PlatformCore;
  try {
    core = await openPlatformCore(options);
  } catch (err) {
    if (!isGatehouseError(err, 'ERR_ROOT_KEY_WRONG') || !nextFile || !existsSync(nextFile)) throw err;
    const next = RootKey.parse(readFileSync(nextFile, 'utf8'));
    core = await openPlatformCore({ ...options, rootKey: { ...rootKey, key: next } });
    rootKey.key = next;
    if (!repair) {
      logger.warn(
        { file: rootKey.file },
        'the root key file holds the key before a rotation and its .next opens the data: using it; gatehouse up finishes the rotation at its next start',
      );
    }
  }
  if (repair && nextFile && existsSync(nextFile)) await settleNextFile(core, rootKey, options.paths, logger);
  return core;
}
