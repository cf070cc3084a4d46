import type { Config } from '../config/index.js';
import { GatehouseError, type Clock, type Logger } from '../core/index.js';
import type { PlatformCore } from './compose.js';
import { readManifest, type DataDirPaths } from './data_dir.js';
import {
  resolveRootKey,
  rootKeyBesideDataWarning,
  type ResolvedRootKey,
  type RootKeyInputs,
} from './root_key_source.js';
import { openWithRootRecovery } from './root_rotation.js';

/**
 * Opens storage, the sealed keyring and the CA on the root key from `--root-key-file`, `GATEHOUSE_ROOT_KEY` or
 * `DIR/root.key` (in that order), finishing a root rotation that crashed half way. Shared by `gatehouse up` (after
 * its first-start step) and the components started alone (`requireInitialized`: they never initialize storage, and
 * never touch the key files of a rotation: they only open with its `.next` when the data is sealed under it).
 * Warns loudly when the root key sits beside the data, unless this very start created it (and said so already).
 *
 * @example
 * const { core, rootKey } = await openSealedCore({ config, rootKey: { env }, paths, clock, logger, requireInitialized: true });
 */
export async function openSealedCore(o: {
  config: Config;
  rootKey: RootKeyInputs;
  paths: DataDirPaths;
  clock: Clock;
  logger: Logger;
  /** This start wrote DIR/root.key and already printed the warning. */
  rootKeyCreated?: boolean;
  requireInitialized?: boolean;
}): Promise<{ core: PlatformCore; rootKey: ResolvedRootKey }> {
  const { config, paths, clock, logger } = o;
  const rootKey = resolveRootKey(o.rootKey, paths, logger);
  if (!rootKey) {
    const fingerprint = readManifest(paths)?.rootKeyFingerprint;
    throw new GatehouseError('ERR_ROOT_KEY_MISSING', {
      message:
        `no root key for ${paths.dir}: supply --root-key-file FILE or GATEHOUSE_ROOT_KEY` +
        (fingerprint ? ` (the data was sealed with root key ${fingerprint})` : ''),
    });
  }
  if (rootKey.source === 'data-dir' && !o.rootKeyCreated)
    logger.warn({ file: paths.rootKey }, rootKeyBesideDataWarning(paths));
  const core = await openWithRootRecovery({
    config,
    rootKey,
    paths,
    clock,
    logger,
    // Components started alone never rotate, so they never repair the key files of a rotation either.
    ...(o.requireInitialized ? { requireInitialized: true, repair: false } : {}),
  });
  return { core, rootKey };
}
