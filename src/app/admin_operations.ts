import { adminTokenOnly, type AdminCall, type AdminOperations, type AdminTokenCheck } from '../http/index.js';
import type { AdminToken } from './admin_token.js';
import type { PlatformCore } from './compose.js';
import type { DataDirPaths } from './data_dir.js';
import type { PostureReport } from './posture_checks.js';
import type { ResolvedRootKey } from './root_key_source.js';
import { rotateRootKey } from './root_rotation.js';

/** JSON field names of our HTTP APIs are snake_case, like Vault's: converts a domain object deeply. */
export function snakeCase(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeCase);
  if (value instanceof Date) return value.toISOString();
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = snakeCase(inner);
  }
  return out;
}

/** The admin API's operations on this process's platform core. */
export function adminOperations(options: {
  core: PlatformCore;
  paths: DataDirPaths;
  adminToken: AdminToken;
  rootKey: ResolvedRootKey;
  /** The bearer check of the admin API (default: the admin token only; app/platform_authorizer.ts adds `admin`). */
  checkAdmin?: AdminTokenCheck;
  renewListeners: () => Promise<Array<{ listener: string; serialNumber: string; notAfter: string }>>;
  /** The posture audit of `gatehouse doctor` (app/posture_checks.ts on the facts of this process). */
  doctor: () => Promise<PostureReport>;
  /** Drops gateway response-cache entries; answers how many went (throws when the gateway is not running). */
  purgeGatewayCache: (filter: { route?: string; pathPrefix?: string }) => number;
}): AdminOperations {
  const { core, paths, adminToken, rootKey } = options;
  const { keyring, authority, clock, logger } = core;
  const audit = logger.child({ audit: true });
  const done = <T>(call: AdminCall, operation: string, fields: object, value: T): unknown => {
    audit.info({ actor: call.actor, operation, ...fields, result: 'ok' }, 'admin operation');
    return snakeCase(value);
  };
  return {
    checkToken: options.checkAdmin ?? adminTokenOnly((token) => adminToken.check(token)),
    status: async () =>
      snakeCase({
        dataDir: paths.dir,
        trustDomain: core.config.trustDomain,
        storage: core.config.storage.kind,
        rootKeySource: rootKey.source,
        rootKeyFingerprint: rootKey.key.fingerprint(),
        ca: await authority.status(clock.now()),
      }),
    rotateAdminToken: async (call) => {
      await adminToken.rotate(core.records, paths.adminToken, clock.now());
      audit.info({ actor: call.actor, operation: 'admin.rotate-token', result: 'ok' }, 'admin operation');
      return { rotated: true, file: paths.adminToken };
    },
    caStatus: async () => snakeCase(await authority.status(clock.now())),
    renewListenerCertificates: async (call) => done(call, 'tls.renew', {}, await options.renewListeners()),
    doctor: async () => {
      const report = await options.doctor();
      return snakeCase({ ...report, checkedAt: new Date(report.checkedAt) });
    },
    keys: {
      createKey: async (call, name, opts) =>
        done(call, 'kms.key.create', { key_name: name }, await keyring.createKey(name, opts)),
      listKeys: async () => snakeCase(await keyring.listKeys()),
      getKey: async (name) => snakeCase(await keyring.getKey(name)),
      configureKey: async (call, name, opts) =>
        done(call, 'kms.key.config', { key_name: name, ...opts }, await keyring.configureKey(name, opts)),
      rotateKey: async (call, name) => done(call, 'kms.key.rotate', { key_name: name }, await keyring.rotateKey(name)),
      deleteKey: async (call, name) => done(call, 'kms.key.delete', { key_name: name }, await keyring.deleteKey(name)),
      restoreKey: async (call, name) =>
        done(call, 'kms.key.restore', { key_name: name }, await keyring.restoreKey(name)),
      trimKey: async (call, name, min) =>
        done(call, 'kms.key.trim', { key_name: name, minAvailableVersion: min }, await keyring.trimKey(name, min)),
    },
    purgeGatewayCache: async (call, filter) =>
      done(call, 'gateway.cache.purge', filter, { purged: options.purgeGatewayCache(filter) }),
    rotateRootKey: async (call) =>
      done(call, 'kms.root.rotate', {}, await rotateRootKey({ core, rootKey, paths, logger })),
  };
}
