import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Config } from '../config/index.js';
import { openStorage } from '../adapters/index.js';
import {
  fsyncDirectory,
  GatehouseError,
  isGatehouseError,
  randomId,
  writeFileAtomic,
  type Clock,
  type Logger,
} from '../core/index.js';
import { Keyring, RootKey } from '../kms/index.js';
import { AdminToken } from './admin_token.js';
import { openPlatformCore } from './compose.js';
import { removeInitLeftovers, writeManifest, type DataDirPaths } from './data_dir.js';
import { rootKeyBesideDataWarning, type ResolvedRootKey } from './root_key_source.js';

/** SQLite files that belong to the data directory (and to a staged first start). */
function sqliteFiles(config: Config): string[] | undefined {
  const file = config.storage.sqlite.file;
  if (config.storage.kind !== 'sqlite' || isAbsolute(file) || file.includes('/') || file.includes('\\')) {
    return undefined;
  }
  return [file, `${file}-wal`, `${file}-shm`, `${file}-journal`];
}

/**
 * Initializes a data directory all or nothing: the root key (unless supplied), storage schema, keyring, CA and admin
 * token. With SQLite inside DIR everything is built in a staging directory and moved in, the manifest last; with
 * PostgreSQL (or a SQLite file elsewhere) each step is idempotent and the manifest is still written last. A start
 * that finds no manifest removes what an interrupted first start left and begins again. Storage that another
 * `gatehouse up` initialized keeps its admin token (shared by the replicas): DIR/admin.token is kept when it holds
 * that token, and a warning says to copy it in otherwise.
 */
export async function initializeDataDir(options: {
  config: Config;
  paths: DataDirPaths;
  suppliedRootKey: ResolvedRootKey | undefined;
  clock: Clock;
  logger: Logger;
}): Promise<{ rootKeyCreated: boolean }> {
  const { config, paths, clock, logger } = options;
  const staged = sqliteFiles(config);
  const leftovers = removeInitLeftovers(
    paths,
    (staged ?? []).map((f) => join(paths.dir, f)),
    { keepAdminToken: staged === undefined },
  );
  if (leftovers.length > 0) logger.warn({ removed: leftovers }, 'removed leftovers of an interrupted first start');

  const stage = join(paths.dir, `.init-${randomId(6)}`);
  mkdirSync(stage, { mode: 0o700 });
  try {
    let root = options.suppliedRootKey;
    let rootKeyCreated = false;
    // Storage outside DIR (PostgreSQL) may already be sealed by another replica: a key made here could never open it.
    if (!root && staged === undefined && (await storageSealed(config, clock, logger))) {
      throw joiningWithoutRootKey(config, paths);
    }
    if (!root) {
      const key = RootKey.generate();
      // Written straight into DIR (not staged) before any sealed data exists, so a crash can never leave data sealed
      // under a key that was lost: the next start finds and reuses this file.
      writeFileAtomic(paths.rootKey, key.toText() + '\n', 0o600);
      root = { key, source: 'data-dir', file: paths.rootKey };
      rootKeyCreated = true;
      logger.warn({ file: paths.rootKey }, rootKeyBesideDataWarning(paths));
    }

    const target = staged ? stage : paths.dir;
    const stageConfig = { ...config, dataDir: target } as Config;
    let core: Awaited<ReturnType<typeof openPlatformCore>>;
    try {
      core = await openPlatformCore({ config: stageConfig, rootKey: root, clock, logger });
    } catch (err) {
      // Another replica sealed the storage after the check above (both started at once): nothing was sealed under
      // the key made here, so it goes, and the next start does not take it for this storage's root key.
      if (!rootKeyCreated || !isGatehouseError(err, 'ERR_ROOT_KEY_WRONG')) throw err;
      rmSync(paths.rootKey, { force: true });
      throw joiningWithoutRootKey(config, paths);
    }
    try {
      const tokenFile = join(target, 'admin.token');
      const made = await AdminToken.createFirst(core.records, tokenFile, clock.now());
      if (!made && !(await AdminToken.fileMatches(core.records, tokenFile))) {
        // Another `gatehouse up` initialized this storage: its admin token is shared, and replacing it here would
        // lock the other replicas' admin CLI out. This replica uses the same token once its file is copied in.
        logger.warn(
          { file: join(paths.dir, 'admin.token') },
          'this storage was initialized by another gatehouse up and its admin token is shared: copy admin.token from a replica of this storage into this data directory (mode 600) to use the admin CLI here',
        );
      }
    } finally {
      await core.close();
    }

    if (staged) {
      for (const name of [...staged, 'admin.token']) {
        const from = join(stage, name);
        if (existsSync(from)) renameSync(from, join(paths.dir, name));
      }
      fsyncDirectory(paths.dir);
    }
    writeManifest(paths, {
      format: 1,
      createdAt: new Date(clock.now()).toISOString(),
      storage: config.storage.kind,
      rootKeySource: root.source === 'data-dir' ? 'file' : 'external',
      rootKeyFingerprint: root.key.fingerprint(),
    });
    logger.info({ dataDir: paths.dir, storage: config.storage.kind }, 'data directory initialized');
    return { rootKeyCreated };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** True when the configured storage already holds a keyring, sealed under some root key. */
async function storageSealed(config: Config, clock: Clock, logger: Logger): Promise<boolean> {
  const storage = await openStorage(config, { clock, logger });
  try {
    return await Keyring.isInitialized(storage.records);
  } finally {
    await storage.close();
  }
}

/** A replica's first start without a root key on storage that another `gatehouse up` initialized. */
function joiningWithoutRootKey(config: Config, paths: DataDirPaths): GatehouseError {
  const where =
    config.storage.kind === 'postgres'
      ? `the PostgreSQL schema ${config.storage.postgres.schema}`
      : `the database ${config.storage.sqlite.file}`;
  return new GatehouseError('ERR_ROOT_KEY_MISSING', {
    message:
      `no root key for ${paths.dir}: ${where} was initialized by another gatehouse up under its own root key; ` +
      `start every replica with that root key (--root-key-file FILE or GATEHOUSE_ROOT_KEY)`,
  });
}
