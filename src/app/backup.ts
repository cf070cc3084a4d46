import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { once } from 'node:events';
import { create as createTar } from 'tar';
import { GatehouseError, randomId, type SnapshotEntry } from '../core/index.js';
import {
  META_COLLECTION,
  OBJECT_COLLECTIONS,
  ROOT_CHECK_KEY,
  fileReadError,
  sealedFingerprint,
  type ObjectRecord,
  type ObjectStore,
  type RootCheckRecord,
  type RootKey,
} from '../kms/index.js';
import { BACKUP_FORMAT, EXCLUDED_RECORDS, type BackupManifest } from './backup_format.js';
import { manifestMac } from './backup_mac.js';
import type { PlatformCore } from './compose.js';
import type { DataDirPaths } from './data_dir.js';
import { nodeName } from './node_name.js';

const STAGE_PREFIX = '.backup-';

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Hard-links an object file of the snapshot into the staging directory. A file the metadata points to but that is
 * gone (removed by hand, a damaged disk) refuses the backup with ERR_DATADIR_INVALID naming it, not a bare ENOENT; one
 * that another node wrote (replicas) with ERR_OBJECT_ON_OTHER_NODE naming that node.
 */
async function linkObjectFile(from: string, to: string, path: string, record: ObjectRecord, node: string) {
  try {
    await link(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const elsewhere = fileReadError(err, record, node);
    if (elsewhere !== err) throw elsewhere;
    throw new GatehouseError('ERR_DATADIR_INVALID', {
      message: `The data directory is incomplete: ${path}, the file of an object, is missing; no backup was written (put the file back, or remove the object with gatehouse object rm)`,
    });
  }
}

const excluded = (entry: SnapshotEntry) =>
  entry.kind === 'record' && EXCLUDED_RECORDS.some((x) => x.collection === entry.collection && x.key === entry.key);

/**
 * A consistent backup of a running gatehouse as a tar stream: `manifest.json` (first), `records.jsonl` (one
 * consistent snapshot of the record store, without the admin token's digest) and `objects/<bucket>/<file>` for every
 * object file that snapshot points to. Object files are hard-linked into a private staging directory inside DIR while
 * the object store holds back removals, so puts, rewraps and deletions may go on during the backup. No root key and
 * no admin token; key material and secrets are sealed and objects are envelopes, but every other record (users and
 * password hashes, clients, key and object names, ...) is plain JSON: the archive is sensitive. The manifest carries
 * an HMAC under a key derived from `rootKey` (the key the records are sealed under), which a restore given the root
 * key verifies.
 *
 * @example
 * const { archive, manifest } = await createBackup({ core, store, paths });
 * await pipeline(archive, createWriteStream('backup.tar'));
 */
export async function createBackup(options: {
  core: PlatformCore;
  store: ObjectStore;
  paths: DataDirPaths;
  /** The root key in use now: the manifest names it and is authenticated under a key derived from it. */
  rootKey: RootKey;
}): Promise<{ archive: Readable; manifest: BackupManifest }> {
  const { core, store, paths, rootKey } = options;
  if (!core.records.snapshot) {
    throw new GatehouseError('ERR_INTERNAL', { detail: 'the record store cannot take snapshots' });
  }
  const stage = join(paths.dir, `${STAGE_PREFIX}${randomId(6)}`);
  await mkdir(stage, { mode: 0o700 });
  const cleanup = () => rm(stage, { recursive: true, force: true });
  try {
    const counts = { records: 0, counters: 0, objects: 0, objectBytes: 0 };
    const entries: Record<string, string> = {};
    const objectPaths: string[] = [];
    const release = store.hold();
    try {
      const objects: ObjectRecord[] = [];
      const out = createWriteStream(join(stage, 'records.jsonl'), { mode: 0o600, flush: true });
      const hash = createHash('sha256');
      let sealedUnder: string | undefined;
      for await (const entry of core.records.snapshot()) {
        if (excluded(entry)) continue;
        const line = JSON.stringify(entry) + '\n';
        hash.update(line);
        if (!out.write(line)) await once(out, 'drain');
        if (entry.kind === 'counter') counts.counters += 1;
        else counts.records += 1;
        if (entry.kind === 'record' && entry.collection === META_COLLECTION && entry.key === ROOT_CHECK_KEY) {
          sealedUnder = sealedFingerprint((entry.value as RootCheckRecord).sealed);
        }
        if (entry.kind === 'record' && entry.collection === OBJECT_COLLECTIONS.objects) {
          objects.push(entry.value as ObjectRecord);
        }
      }
      out.end();
      await once(out, 'close');
      // The records must be sealed under the key the manifest names and is MACed with: a root rotation committed on
      // another replica before the snapshot, and not adopted here yet, would make an archive no key can restore.
      if (sealedUnder !== undefined && sealedUnder !== rootKey.fingerprint()) {
        throw new GatehouseError('ERR_BACKUP_ROOT_KEY_CHANGED', {
          detail: `the snapshot is sealed under root key ${sealedUnder}, this process holds ${rootKey.fingerprint()}`,
        });
      }
      entries['records.jsonl'] = hash.digest('hex');
      const node = nodeName(core.config);
      for (const record of objects) {
        const { bucket, fileName } = record;
        const path = `objects/${bucket}/${fileName}`;
        await mkdir(join(stage, 'objects', bucket), { recursive: true, mode: 0o700 });
        await linkObjectFile(join(paths.dir, 'objects', bucket, fileName), join(stage, path), path, record, node);
        objectPaths.push(path);
      }
    } finally {
      await release();
    }
    for (const path of objectPaths) {
      entries[path] = await sha256File(join(stage, path));
      counts.objects += 1;
      counts.objectBytes += (await stat(join(stage, path))).size;
    }
    const fields: BackupManifest = {
      format: BACKUP_FORMAT,
      createdAt: new Date(core.clock.now()).toISOString(),
      trustDomain: core.config.trustDomain,
      rootKeyFingerprint: rootKey.fingerprint(),
      storage: core.config.storage.kind,
      counts,
      entries,
    };
    const manifest: BackupManifest = { ...fields, mac: manifestMac(rootKey, fields) };
    await writeFile(join(stage, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
    const pack = createTar({ cwd: stage, portable: true, noDirRecurse: true }, [
      'manifest.json',
      'records.jsonl',
      ...objectPaths,
    ]);
    const archive = Readable.from(pack as AsyncIterable<Buffer>, { objectMode: false });
    let cleaned = false;
    const done = () => {
      if (!cleaned) {
        cleaned = true;
        void cleanup();
      }
    };
    archive.once('end', done);
    archive.once('error', done);
    archive.once('close', done);
    core.logger.info({ ...counts }, 'backup snapshot taken');
    return { archive, manifest };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * Removes staging directories of backups a crash interrupted.
 *
 * @example
 * await removeBackupLeftovers(paths);
 */
export async function removeBackupLeftovers(paths: DataDirPaths): Promise<number> {
  let removed = 0;
  for (const name of await readdir(paths.dir)) {
    if (name.startsWith(STAGE_PREFIX)) {
      await rm(join(paths.dir, name), { recursive: true, force: true });
      removed += 1;
    }
  }
  return removed;
}
