import { createHash } from 'node:crypto';
import { accessSync, constants, createReadStream, existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { extract } from 'tar';
import type { Config } from '../config/index.js';
import {
  GatehouseError,
  fsyncDirectory,
  randomId,
  unreadableReason,
  type Clock,
  type Logger,
  type SnapshotEntry,
} from '../core/index.js';
import { OBJECT_COLLECTIONS, RootKey } from '../kms/index.js';
import { acquireFileLock, openStorage } from '../adapters/index.js';
import { AdminToken } from './admin_token.js';
import { checkEntryPath, invalidBackup, parseBackupManifest, type BackupManifest } from './backup_format.js';
import { checkManifestMac } from './backup_mac.js';
import {
  dataDirPaths,
  ensureDataDir,
  markRestore,
  readManifest,
  refuseUnfinishedRestore,
  writeManifest,
} from './data_dir.js';
import { nodeName } from './node_name.js';
import { nextFileOf } from './root_rotation.js';
import { resolveRootKey, type ResolvedRootKey, type RootKeyInputs } from './root_key_source.js';

/** What a restore did. */
export interface RestoreReport {
  dataDir: string;
  records: number;
  counters: number;
  objects: number;
  rootKeyFingerprint: string;
  adminToken: string;
  /**
   * True when the manifest's HMAC verified under the root key. False when no root key was given, or for a format-1
   * archive (written before manifests were authenticated): the entries then only matched a manifest that anyone able
   * to write the archive could have rewritten.
   */
  authenticated: boolean;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function filesUnder(root: string, dir = root): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(root, path)));
    else out.push(relative(root, path).split('\\').join('/'));
  }
  return out;
}

/** Extracts the archive into `stage`, refusing anything but plain files at the paths the format allows. */
async function extractArchive(file: string, stage: string): Promise<void> {
  let refused: GatehouseError | undefined;
  try {
    await extract({
      file,
      cwd: stage,
      strict: true,
      preserveOwner: false,
      filter: (path, entry) => {
        const type = 'type' in entry ? entry.type : 'File';
        if (type === 'Directory') return false;
        try {
          if (type !== 'File' && type !== 'OldFile') throw invalidBackup(`entry ${JSON.stringify(path)} is not a file`);
          checkEntryPath(path);
          return true;
        } catch (err) {
          refused ??= err as GatehouseError;
          return false;
        }
      },
    });
  } catch (err) {
    throw refused ?? invalidBackup(`not a readable tar archive (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (refused) throw refused;
}

/** Directories under `dir` (and `dir`) become 0700, as the object store creates them. */
async function privateDirectories(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  await chmod(dir, 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await privateDirectories(join(dir, entry.name));
  }
}

/**
 * Checks the manifest (its HMAC under `root` first, when there is a root key), then that the staged files are exactly
 * its entries, each with its SHA-256.
 */
async function verifyStage(
  stage: string,
  chooseRoot: (manifest: BackupManifest) => RootKey | undefined,
): Promise<{ manifest: BackupManifest; root: RootKey | undefined }> {
  if (!existsSync(join(stage, 'manifest.json'))) throw invalidBackup('manifest.json is missing');
  const manifest = parseBackupManifest(await readFile(join(stage, 'manifest.json'), 'utf8'));
  const root = chooseRoot(manifest);
  if (root !== undefined) checkManifestMac(root, manifest);
  const present = new Set((await filesUnder(stage)).filter((p) => p !== 'manifest.json'));
  for (const [path, expected] of Object.entries(manifest.entries)) {
    if (!present.delete(path)) throw invalidBackup(`${path} is missing`);
    if ((await sha256File(join(stage, path))) !== expected) throw invalidBackup(`${path} does not match its SHA-256`);
  }
  const extra = [...present][0];
  if (extra !== undefined) throw invalidBackup(`${extra} is not listed in the manifest`);
  return { manifest, root };
}

/**
 * The root key to authenticate `manifest` with: the one given, or, when the archive was taken under the key of a root
 * rotation that never renamed its `<file>.next` over the key file (as `gatehouse up` opens such a pair), that `.next`.
 */
function rootKeyFor(given: ResolvedRootKey | undefined, manifest: BackupManifest, logger: Logger): RootKey | undefined {
  if (given === undefined || given.key.fingerprint() === manifest.rootKeyFingerprint || !given.file) return given?.key;
  const nextFile = nextFileOf(given.file);
  if (!existsSync(nextFile)) return given.key;
  const next = RootKey.parse(readFileSync(nextFile, 'utf8'));
  if (next.fingerprint() !== manifest.rootKeyFingerprint) return given.key;
  logger.warn(
    { file: nextFile },
    `the backup was taken under the key of an unfinished root rotation: using ${nextFile}; the restored directory needs that key (gatehouse up renames it over ${given.file})`,
  );
  return next;
}

/** ERR_INPUT_FILE when the archive cannot be read (before the data directory is touched). */
function checkArchiveReadable(file: string): void {
  const refuse = (why: string) => new GatehouseError('ERR_INPUT_FILE', { message: `backup archive ${file}: ${why}` });
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
    accessSync(file, constants.R_OK);
  } catch (err) {
    throw refuse(unreadableReason(err));
  }
  if (!isFile) throw refuse('not a regular file');
}

async function* snapshotLines(file: string, node: string): AsyncIterable<SnapshotEntry> {
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (line === '') continue;
    let entry: SnapshotEntry;
    try {
      entry = JSON.parse(line) as SnapshotEntry;
    } catch {
      throw invalidBackup('records.jsonl holds a line that is not JSON');
    }
    yield restoredHere(entry, node);
  }
}

/** An object's metadata names the node restoring it: the object files go into its data directory. */
function restoredHere(entry: SnapshotEntry, node: string): SnapshotEntry {
  const value = entry.value;
  if (entry.kind !== 'record' || entry.collection !== OBJECT_COLLECTIONS.objects) return entry;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return entry;
  return { ...entry, value: { ...value, node } };
}

/** The SQLite files that live inside the data directory (moved in from the staging directory), if any. */
function stagedDatabaseFiles(config: Config): string[] {
  const file = config.storage.sqlite.file;
  if (config.storage.kind !== 'sqlite' || isAbsolute(file) || file.includes('/') || file.includes('\\')) return [];
  return [file, `${file}-wal`, `${file}-shm`];
}

/**
 * `gatehouse restore FILE --data-dir NEWDIR`, offline: refuses a data directory that is initialized or locked by a
 * running gatehouse, verifies every entry of the archive against its manifest, loads the records into an empty store
 * (SQLite in NEWDIR, or the configured PostgreSQL schema), puts the object files in place, issues a NEW admin token
 * and writes NEWDIR/gatehouse.json last. From the committed load of the records until then NEWDIR/restore.incomplete
 * marks the restore as unfinished: after a crash `gatehouse up` and the next restore refuse the directory
 * (ERR_DATADIR_INVALID) instead of initializing an empty deployment over the restored files.
 * The root key is not in the archive: the first `gatehouse up` needs the original one. Given it now
 * (`rootKey`: --root-key-file, GATEHOUSE_ROOT_KEY or NEWDIR/root.key), the restore also authenticates the archive
 * (the manifest's HMAC, ERR_BACKUP_INVALID) and refuses another root key (ERR_ROOT_KEY_WRONG) before loading
 * anything. An archive it cannot authenticate (no root key, or format 1) is refused (ERR_BACKUP_UNAUTHENTICATED)
 * unless `allowUnauthenticated` (--allow-unauthenticated) is set; then it is restored with a warning.
 *
 * @example
 * const report = await restoreBackup({ archive: 'backup.tar', config, clock: systemClock, logger });
 */
export async function restoreBackup(options: {
  archive: string;
  config: Config;
  clock: Clock;
  logger: Logger;
  /** Where the root key may come from; a key found there authenticates the archive. */
  rootKey?: RootKeyInputs;
  /** Restore an archive that cannot be authenticated (the explicit, logged opt-in of --allow-unauthenticated). */
  allowUnauthenticated?: boolean;
}): Promise<RestoreReport> {
  const { config, clock, logger } = options;
  const paths = dataDirPaths(config.dataDir);
  checkArchiveReadable(options.archive);
  ensureDataDir(paths);
  const given = resolveRootKey(options.rootKey ?? {}, paths, logger);
  const lock = acquireFileLock(paths.lock);
  if (!lock) {
    throw new GatehouseError('ERR_RESTORE_TARGET_IN_USE', { message: `a gatehouse is running on ${paths.dir}` });
  }
  const stage = join(paths.dir, `.init-restore-${randomId(6)}`);
  try {
    refuseUnfinishedRestore(paths);
    if (readManifest(paths)) {
      throw new GatehouseError('ERR_RESTORE_TARGET_IN_USE', {
        message: `${paths.dir} is already an initialized data directory: restore into a new one`,
      });
    }
    const unexpected = (await readdir(paths.dir)).filter(
      (name) => !['lock', 'leases', 'root.key'].includes(name) && !/^(lock-|\.init-)/.test(name),
    );
    if (unexpected.length > 0) {
      throw new GatehouseError('ERR_RESTORE_TARGET_IN_USE', {
        message: `${paths.dir} is not empty (${unexpected.slice(0, 3).join(', ')}): restore into a new directory`,
      });
    }
    await mkdir(stage, { mode: 0o700 });
    await extractArchive(options.archive, stage);
    const { manifest, root } = await verifyStage(stage, (m) => rootKeyFor(given, m, logger));
    const authenticated = root !== undefined && manifest.format === 2;
    if (!authenticated && options.allowUnauthenticated !== true) {
      throw new GatehouseError('ERR_BACKUP_UNAUTHENTICATED', {
        message:
          root === undefined
            ? 'the archive cannot be authenticated without the root key: give --root-key-file FILE (or GATEHOUSE_ROOT_KEY), or --allow-unauthenticated to trust the archive storage'
            : 'a format-1 archive has no manifest HMAC: give --allow-unauthenticated to trust the archive storage',
      });
    }
    if (!authenticated) {
      logger.warn(
        { format: manifest.format, rootKey: root !== undefined },
        root === undefined
          ? 'backup not authenticated: no root key given (--root-key-file FILE or GATEHOUSE_ROOT_KEY); entries were only checked against the manifest'
          : 'backup not authenticated: a format-1 archive has no manifest HMAC; entries were only checked against the manifest',
      );
    }
    await privateDirectories(join(stage, 'objects'));
    if (manifest.trustDomain !== config.trustDomain) {
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        message: `config: trustDomain: the backup was taken with trust domain ${manifest.trustDomain}; set trustDomain to it`,
      });
    }

    const staged = stagedDatabaseFiles(config);
    const target = staged.length > 0 ? stage : paths.dir;
    const storage = await openStorage({ ...config, dataDir: target } as Config, { clock, logger });
    let counts: { records: number; counters: number };
    try {
      if (!storage.records.restore) throw new GatehouseError('ERR_INTERNAL', { detail: 'store cannot restore' });
      counts = await storage.records.restore(snapshotLines(join(stage, 'records.jsonl'), nodeName(config)));
      // The load committed (in one transaction): from here on a crash leaves restored data outside the staging
      // directory (the PostgreSQL schema; with SQLite, the files moved in below).
      markRestore(paths, false);
      await AdminToken.create(storage.records, join(target, 'admin.token'), clock.now());
    } finally {
      await storage.close();
    }

    for (const name of [...staged, 'admin.token']) {
      const from = join(stage, name);
      if (existsSync(from)) renameSync(from, join(paths.dir, name));
    }
    if (existsSync(join(stage, 'objects'))) renameSync(join(stage, 'objects'), join(paths.dir, 'objects'));
    fsyncDirectory(paths.dir);
    writeManifest(paths, {
      format: 1,
      createdAt: new Date(clock.now()).toISOString(),
      storage: config.storage.kind,
      rootKeySource: 'external',
      rootKeyFingerprint: manifest.rootKeyFingerprint,
    });
    markRestore(paths, true);
    const report: RestoreReport = {
      dataDir: paths.dir,
      ...counts,
      objects: manifest.counts.objects,
      rootKeyFingerprint: manifest.rootKeyFingerprint,
      adminToken: paths.adminToken,
      authenticated,
    };
    logger.info({ ...report }, 'backup restored');
    return report;
  } finally {
    await rm(stage, { recursive: true, force: true });
    lock.release();
  }
}
