import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackupManifest } from '../../src/app/backup_format.js';
import { manifestMac } from '../../src/app/backup_mac.js';
import { restoreBackup } from '../../src/app/restore.js';
import { loadConfig } from '../../src/config/index.js';
import { ManualClock, MemoryLogger } from '../../src/core/index.js';
import { openStorage } from '../../src/adapters/index.js';
import { OBJECT_COLLECTIONS, RootKey, objectRecordKey, type ObjectRecord } from '../../src/kms/index.js';
import { tempDir } from '../support/tmp.js';
import { codeOf } from '../support/error_code.js';

const dirs: Array<{ remove(): void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const config = loadConfig({});

/** One plain record, as an attacker would add one (a client, an API key digest, ...). */
const RECORD = { kind: 'record', collection: 'notes', key: 'a', value: { text: 'hello' }, version: 1, expiresAt: null };

/** Writes a backup archive by hand: records.jsonl with `records`, and a manifest of `format` MACed under `macKey`. */
async function archive(options: {
  root: RootKey;
  records?: string;
  format?: 1 | 2;
  /** The key the MAC is made under (default `root`); null: no MAC. */
  macKey?: RootKey | null;
  /** A MAC to write instead (copied from another manifest). */
  mac?: string;
}) {
  const tmp = tempDir('gh-backup-mac-');
  dirs.push(tmp);
  const stage = join(tmp.dir, 'stage');
  mkdirSync(stage);
  const records = options.records ?? JSON.stringify(RECORD) + '\n';
  writeFileSync(join(stage, 'records.jsonl'), records);
  const format = options.format ?? 2;
  const fields: BackupManifest = {
    format,
    createdAt: '2026-01-01T00:00:00.000Z',
    trustDomain: config.trustDomain,
    rootKeyFingerprint: options.root.fingerprint(),
    storage: 'sqlite',
    counts: { records: records.split('\n').filter((l) => l !== '').length, counters: 0, objects: 0, objectBytes: 0 },
    entries: { 'records.jsonl': sha256(records) },
  };
  const macKey = options.macKey === undefined ? options.root : options.macKey;
  const mac = options.mac ?? (format === 2 && macKey !== null ? manifestMac(macKey, fields) : undefined);
  const manifest = mac === undefined ? fields : { ...fields, mac };
  writeFileSync(join(stage, 'manifest.json'), JSON.stringify(manifest, null, 2));
  const file = join(tmp.dir, 'backup.tar');
  await createTar({ cwd: stage, file, portable: true }, ['manifest.json', 'records.jsonl']);
  return { file, dataDir: join(tmp.dir, 'restored'), root: options.root, mac };
}

async function restore(a: { file: string; dataDir: string }, rootKey?: RootKey, allowUnauthenticated = false) {
  const logger = new MemoryLogger();
  const report = await restoreBackup({
    archive: a.file,
    config: { ...config, dataDir: a.dataDir },
    clock: new ManualClock(Date.parse('2026-01-02T00:00:00Z')),
    logger,
    allowUnauthenticated,
    ...(rootKey === undefined ? {} : { rootKey: { env: rootKey.toText() } }),
  });
  return { report, logger };
}

describe('backup manifests are authenticated under the root key', () => {
  it('restores an archive whose HMAC verifies under the given root key, and says so', async () => {
    const a = await archive({ root: RootKey.generate() });
    const { report } = await restore(a, a.root);
    expect(report).toMatchObject({ records: 1, authenticated: true, rootKeyFingerprint: a.root.fingerprint() });
  });

  it('refuses a rewritten archive (records changed, SHA-256 in the manifest updated) when the root key is given', async () => {
    const root = RootKey.generate();
    const original = await archive({ root });
    const evil = JSON.stringify({ ...RECORD, key: 'planted' }) + '\n';
    // the attacker recomputes every SHA-256 but not the HMAC: they copy the old one, or make one under their own key
    const copied = await archive({ root, records: evil, ...(original.mac === undefined ? {} : { mac: original.mac }) });
    const ownKey = await archive({ root, records: evil, macKey: RootKey.generate() });
    for (const forged of [copied, ownKey]) {
      expect(await codeOf(restore(forged, root))).toBe('ERR_BACKUP_INVALID');
    }
    // without the root key it is refused too, unless the operator says to trust the archive storage
    expect(await codeOf(restore(ownKey))).toBe('ERR_BACKUP_UNAUTHENTICATED');
    expect((await restore(ownKey, undefined, true)).report).toMatchObject({ records: 1, authenticated: false });
    expect((await restore(original, root)).report.authenticated).toBe(true);
  });

  it('refuses another root key with ERR_ROOT_KEY_WRONG before loading anything', async () => {
    const a = await archive({ root: RootKey.generate() });
    expect(await codeOf(restore(a, RootKey.generate()))).toBe('ERR_ROOT_KEY_WRONG');
    expect((await restore(a, a.root)).report.authenticated).toBe(true); // nothing was loaded by the refusal
  });

  it('without the root key, or for a format-1 archive, refuses unless allowed, then restores and warns', async () => {
    const fresh = await archive({ root: RootKey.generate() });
    expect(await codeOf(restore(fresh))).toBe('ERR_BACKUP_UNAUTHENTICATED');
    const withoutKey = await restore(fresh, undefined, true); // the refusal loaded nothing
    expect(withoutKey.report.authenticated).toBe(false);
    expect(withoutKey.logger.lines.some((l) => String(l.msg).startsWith('backup not authenticated'))).toBe(true);
    const old = await archive({ root: RootKey.generate(), format: 1 });
    expect(await codeOf(restore(old, old.root))).toBe('ERR_BACKUP_UNAUTHENTICATED');
    const restored = await restore(old, old.root, true);
    expect(restored.report).toMatchObject({ records: 1, authenticated: false });
    expect(restored.logger.lines.some((l) => String(l.msg).includes('format-1 archive'))).toBe(true);
  });

  it('refuses a format-2 manifest without its HMAC even without the root key', async () => {
    const a = await archive({ root: RootKey.generate(), macKey: null });
    expect(await codeOf(restore(a))).toBe('ERR_BACKUP_INVALID');
  });
});

describe('restore and the node of objects', () => {
  it("names the restoring node in every object's metadata: the object files go into its data directory", async () => {
    const object = {
      bucket: 'docs',
      key: 'a.txt',
      size: 1,
      storedSize: 100,
      keyName: 'bucket-docs',
      keyVersion: 1,
      createdAt: 1,
      fileName: 'f.obj',
      node: 'old-host:/var/lib/gatehouse',
    };
    const line = { ...RECORD, collection: OBJECT_COLLECTIONS.objects, key: objectRecordKey('docs', 'a.txt') };
    const a = await archive({ root: RootKey.generate(), records: JSON.stringify({ ...line, value: object }) + '\n' });
    await restore(a, a.root);
    const storage = await openStorage(
      { ...config, dataDir: a.dataDir },
      { clock: new ManualClock(0), logger: new MemoryLogger() },
    );
    try {
      const restored = await storage.records.get<ObjectRecord>(OBJECT_COLLECTIONS.objects, line.key);
      expect(restored?.value).toEqual({ ...object, node: `${hostname()}:${a.dataDir}` });
    } finally {
      await storage.close();
    }
  });
});
