import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRecordStore } from '../../src/adapters/memory/record_store.js';
import { createBackup } from '../../src/app/backup.js';
import type { PlatformCore } from '../../src/app/compose.js';
import { dataDirPaths } from '../../src/app/data_dir.js';
import { loadConfig } from '../../src/config/index.js';
import { ManualClock, MemoryLogger } from '../../src/core/index.js';
import { Keyring, RootKey, type ObjectStore } from '../../src/kms/index.js';
import { tempDir } from '../support/tmp.js';

const dirs: Array<{ remove(): void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

/** The part of a platform core and object store a backup reads: a record store with a keyring on it, no objects. */
async function replicaPair() {
  const clock = new ManualClock(Date.UTC(2026, 10, 29));
  const records = new MemoryRecordStore({ clock });
  const before = RootKey.generate();
  const here = await Keyring.open({ store: records, root: before, clock });
  await here.createKey('orders');
  const core = { records, clock, logger: new MemoryLogger(), config: loadConfig({}) } as unknown as PlatformCore;
  const objects = { hold: () => async () => {} } as unknown as ObjectStore;
  const tmp = tempDir('gh-backup-root-');
  dirs.push(tmp);
  return { records, clock, before, core, objects, paths: dataDirPaths(tmp.dir), dir: tmp.dir };
}

// A root rotation committed on another replica re-seals every record at once. A backup answered by a replica that
// had not adopted it yet wrote a manifest naming (and MACed under) the old key over records sealed under the new
// one: no root key could restore that archive.
describe('createBackup and the root key', () => {
  it('refuses a snapshot sealed under another root key (409 ERR_BACKUP_ROOT_KEY_CHANGED), leaving nothing behind', async () => {
    const { records, clock, before, core, objects, paths, dir } = await replicaPair();
    const after = RootKey.generate();
    const elsewhere = await Keyring.open({ store: records, root: before, clock });
    await elsewhere.rotateRoot(after);

    await expect(createBackup({ core, store: objects, paths, rootKey: before })).rejects.toMatchObject({
      code: 'ERR_BACKUP_ROOT_KEY_CHANGED',
      status: 409,
    });
    expect(readdirSync(dir).filter((name) => name.startsWith('.backup-'))).toEqual([]);

    const { archive, manifest } = await createBackup({ core, store: objects, paths, rootKey: after });
    expect(manifest.rootKeyFingerprint).toBe(after.fingerprint());
    expect(manifest.counts.records).toBeGreaterThan(0);
    archive.resume();
    await new Promise((resolve) => archive.once('end', resolve));
  });
});
