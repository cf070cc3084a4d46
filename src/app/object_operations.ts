import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { FsObjectFiles } from '../adapters/index.js';
import { isGatehouseError } from '../core/index.js';
import {
  registerBackupRoutes,
  registerObjectRoutes,
  type AdminTokenCheck,
  type ObjectOperations,
} from '../http/index.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EnvelopeObjectCipher, Envelopes, ObjectRewrap, ObjectStore } from '../kms/index.js';
import { snakeCase } from './admin_operations.js';
import { createBackup, removeBackupLeftovers } from './backup.js';
import type { PlatformCore } from './compose.js';
import { dataDirPaths } from './data_dir.js';
import { nodeName } from './node_name.js';
import type { ResolvedRootKey } from './root_key_source.js';

/**
 * The object store of a platform core: files under `<dataDir>/objects`, envelopes over the core's keyring; the objects
 * it writes record this node ({@link nodeName}).
 */
export function openObjectStore(core: PlatformCore): {
  store: ObjectStore;
  rewrap: ObjectRewrap;
  files: FsObjectFiles;
} {
  const files = new FsObjectFiles(join(core.config.dataDir, 'objects'));
  const cipher = new EnvelopeObjectCipher(new Envelopes({ keys: core.keyring, clock: core.clock }), core.keyring);
  const logger = core.logger.child({ component: 'objects' });
  const parts = { records: core.records, files, cipher, clock: core.clock, logger, node: nodeName(core.config) };
  const store = new ObjectStore(parts);
  return { store, files, rewrap: new ObjectRewrap({ ...parts, store, leases: core.leases }) };
}

/**
 * Reports once how a streamed answer ended: `ok` when it was read to the end, the error's code when it failed,
 * `aborted` when it was closed before the end (the client went away).
 */
function auditOutcome(stream: Readable, report: (result: string) => void): void {
  let reported = false;
  const once = (result: string) => {
    if (reported) return;
    reported = true;
    report(result);
  };
  stream.once('end', () => once('ok'));
  stream.once('error', (err) => {
    const code = (err as NodeJS.ErrnoException).code;
    const gone = code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ABORT_ERR'; // destroyed by its reader
    once(isGatehouseError(err) ? err.code : gone ? 'aborted' : 'ERR_INTERNAL');
  });
  stream.once('close', () => once('aborted'));
}

/**
 * The admin API's object operations, with one audit line per call (bucket and key names, sizes, versions; never
 * object bytes).
 *
 * @example
 * registerObjectRoutes(admin.app, { ops: objectOperations(openObjectStore(core), core), checkToken });
 */
export function objectOperations(
  objects: { store: ObjectStore; rewrap: ObjectRewrap },
  core: PlatformCore,
): ObjectOperations {
  const { store, rewrap } = objects;
  const audit = core.logger.child({ audit: true });
  const audited = async <T>(operation: string, fields: object, run: () => Promise<T>): Promise<T> => {
    try {
      const result = await run();
      audit.info({ operation, ...fields, result: 'ok' }, 'object operation');
      return result;
    } catch (err) {
      audit.info(
        { operation, ...fields, result: isGatehouseError(err) ? err.code : 'ERR_INTERNAL' },
        'object operation',
      );
      throw err;
    }
  };
  return {
    listBuckets: async () => snakeCase(await store.listBuckets()),
    keyExists: async (keyName) => {
      try {
        await core.keyring.getKey(keyName);
        return true;
      } catch (err) {
        if (isGatehouseError(err, 'ERR_KMS_KEY_NOT_FOUND')) return false;
        throw err;
      }
    },
    put: (bucket, key, body, options) =>
      audited('object.put', { actor: options.actor, bucket, key }, async () =>
        snakeCase(
          await store.put(bucket, key, body, options.keyName === undefined ? {} : { keyName: options.keyName }),
        ),
      ),
    read: async (bucket, key, options) => {
      const fields = { actor: options.actor, operation: 'object.get', bucket, key, verifyFirst: options.verifyFirst };
      let opened: { info: { size: number }; plaintext: Readable };
      try {
        opened = await store.read(bucket, key, { verifyFirst: options.verifyFirst });
      } catch (err) {
        audit.info({ ...fields, result: isGatehouseError(err) ? err.code : 'ERR_INTERNAL' }, 'object operation');
        throw err;
      }
      // The plaintext streams out after this returns: the audit line waits for its outcome, so a segment that
      // fails to authenticate half way (the download is aborted) is not recorded as `ok`.
      auditOutcome(opened.plaintext, (result) => audit.info({ ...fields, result }, 'object operation'));
      return { size: opened.info.size, plaintext: opened.plaintext };
    },
    verify: (bucket, key, actor) =>
      audited('object.verify', { actor, bucket, key }, async () => snakeCase(await store.verify(bucket, key))),
    list: async (bucket, options) => snakeCase(await store.list(bucket, options)),
    remove: (bucket, key, actor) =>
      audited('object.rm', { actor, bucket, key }, async () => snakeCase(await store.remove(bucket, key))),
    rewrap: (bucket, progress, actor) =>
      audited('object.rewrap', { actor, bucket }, async () =>
        snakeCase(await rewrap.run(bucket, (event) => progress(snakeCase(event)))),
      ),
  };
}

/**
 * Wires the object store and backups into the admin listener of `gatehouse up`: removes leftovers of interrupted
 * writes and backups (before the listener accepts anything), then registers the object and backup routes.
 *
 * @example
 * await attachObjectStore(admin.app, core, adminTokenOnly((token) => adminToken.check(token)), rootKey);
 */
export async function attachObjectStore(
  app: FastifyInstance,
  core: PlatformCore,
  checkToken: AdminTokenCheck,
  /** The root key holder of this process (rotations update it): backups are authenticated under its key. */
  rootKey: ResolvedRootKey,
  /**
   * Per-bucket scopes (`object:read:<bucket>`, `object:write:<bucket>`), resolving with the caller's actor; without
   * it, `checkToken` alone decides.
   */
  authorize?: (headers: FastifyRequest['headers'], permission: string, socket?: Socket) => Promise<string>,
): Promise<{ store: ObjectStore; files: FsObjectFiles }> {
  const objects = openObjectStore(core);
  const paths = dataDirPaths(core.config.dataDir);
  await objects.store.recover();
  await removeBackupLeftovers(paths);
  registerObjectRoutes(app, {
    ops: objectOperations(objects, core),
    checkToken,
    ...(authorize === undefined ? {} : { authorize }),
  });
  const audit = core.logger.child({ audit: true });
  registerBackupRoutes(app, {
    checkToken,
    ops: {
      backup: async (call) => {
        const { archive, manifest } = await createBackup({
          core,
          store: objects.store,
          paths,
          rootKey: rootKey.key,
        });
        audit.info({ actor: call.actor, operation: 'backup', ...manifest.counts, result: 'ok' }, 'admin operation');
        return { archive, counts: manifest.counts };
      },
    },
  });
  return objects;
}
