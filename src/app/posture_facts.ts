import { statSync } from 'node:fs';
import type { Config } from '../config/index.js';
import type { GatewayConfig } from '../gateway/index.js';
import type { SigningKeyMeta } from '../identity/index.js';
import type { KeyInfo } from '../kms/index.js';
import { AdminToken } from './admin_token.js';
import type { PlatformCore } from './compose.js';
import type { DataDirPaths } from './data_dir.js';
import type { IdentityServer } from './identity_server.js';
import type { ResolvedRootKey } from './root_key_source.js';

/**
 * What `gatehouse doctor` judges, read off the running platform at one instant: plain data, so that the checks
 * (posture_checks.ts) are pure functions of it. File modes are the permission bits (`mode & 0o777`), undefined when
 * the file does not exist.
 */
export interface PostureFacts {
  now: number;
  config: Pick<Config, 'storage' | 'redis' | 'identity' | 'listen'>;
  /** The gateway section in force (after SIGHUP reloads). */
  gateway: GatewayConfig;
  rootKey: { source: ResolvedRootKey['source']; file?: string; fileMode?: number };
  dataDir: { path: string; mode?: number };
  /** The token file of this data directory, and when the shared token was made or last rotated. */
  adminToken: { file: string; mode?: number; rotatedAt?: number };
  /** The CA's own expiry warnings (`ca status`). */
  caWarnings: string[];
  clients: Array<{
    clientId: string;
    name: string;
    legacyImplicit: boolean;
    accessTokenTtlMs?: number;
  }>;
  apiKeys: Array<{ id: string; name: string; createdAt: number; expiresAt: number | null; revokedAt: number | null }>;
  signingKeys: SigningKeyMeta[];
  kmsKeys: Array<Pick<KeyInfo, 'name' | 'deleted' | 'deletionAllowed' | 'latestVersion' | 'versions'>>;
}

function modeOf(file: string): number | undefined {
  try {
    return statSync(file).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Reads the facts of this `gatehouse up` process: its files, its configuration, and the records of the shared store.
 *
 * @example
 * const report = auditPosture(await gatherPostureFacts({ core, paths, rootKey, identity, gateway: () => config.gateway }));
 */
export async function gatherPostureFacts(o: {
  core: PlatformCore;
  paths: DataDirPaths;
  rootKey: ResolvedRootKey;
  identity: IdentityServer;
  gateway: () => GatewayConfig;
}): Promise<PostureFacts> {
  const { core, paths, rootKey, identity } = o;
  const now = core.clock.now();
  const [clients, apiKeys, kmsKeys, rotatedAt] = await Promise.all([
    identity.clients.list(),
    identity.apiKeys.list(),
    core.keyring.listKeys(),
    AdminToken.rotatedAt(core.records),
  ]);
  const rootKeyMode = rootKey.file === undefined ? undefined : modeOf(rootKey.file);
  return {
    now,
    config: core.config,
    gateway: o.gateway(),
    rootKey: {
      source: rootKey.source,
      ...(rootKey.file === undefined ? {} : { file: rootKey.file }),
      ...(rootKeyMode === undefined ? {} : { fileMode: rootKeyMode }),
    },
    dataDir: { path: paths.dir, ...optionalMode(paths.dir) },
    adminToken: {
      file: paths.adminToken,
      ...optionalMode(paths.adminToken),
      ...(rotatedAt === undefined ? {} : { rotatedAt }),
    },
    caWarnings: core.authority.status(now).warnings,
    clients: clients.map((c) => ({
      clientId: c.clientId,
      name: c.name,
      legacyImplicit: c.legacyImplicit,
      ...(c.accessTokenTtlMs === undefined ? {} : { accessTokenTtlMs: c.accessTokenTtlMs }),
    })),
    apiKeys: apiKeys.map((k) => ({
      id: k.id,
      name: k.name,
      createdAt: k.createdAt,
      expiresAt: k.expiresAt,
      revokedAt: k.revokedAt,
    })),
    signingKeys: identity.signingKeys.list().map((k) => ({
      kid: k.kid,
      alg: k.alg,
      createdAt: k.createdAt,
      activatesAt: k.activatesAt,
      retiresAt: k.retiresAt,
    })),
    kmsKeys,
  };
}

function optionalMode(file: string): { mode?: number } {
  const mode = modeOf(file);
  return mode === undefined ? {} : { mode };
}
