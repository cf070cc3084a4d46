import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresRecordStore, SqliteRecordStore } from '../../src/adapters/index.js';
import { ManualClock, MemoryLogger, type RecordStore } from '../../src/core/index.js';
import { RootKey } from '../../src/kms/index.js';
import { freshPostgresSchema, type FreshPostgresSchema } from '../support/postgres.js';
import { tempDir } from '../support/tmp.js';
import { codeOf, openKeyring, rawRecords } from './keyring_fixture.js';

interface Backend {
  name: string;
  /** Opens another connection to the same database (another "process"). */
  setup(): Promise<() => Promise<RecordStore>>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));

const backends: Backend[] = [
  {
    name: 'SQLite',
    async setup() {
      const tmp = tempDir('gh-kms-');
      cleanups.push(() => tmp.remove());
      return async () => {
        const store = SqliteRecordStore.open({ file: join(tmp.dir, 'gatehouse.db'), clock, busyTimeoutMs: 5000 });
        cleanups.push(() => store.close());
        return store;
      };
    },
  },
  {
    name: 'PostgreSQL',
    async setup() {
      const pgSchema: FreshPostgresSchema = await freshPostgresSchema();
      cleanups.push(() => pgSchema.drop());
      return async () => {
        const store = await PostgresRecordStore.open({ ...pgSchema, poolSize: 2, ssl: false, clock });
        cleanups.push(() => store.close());
        return store;
      };
    },
  },
];

describe.each(backends)('Keyring on $name', (backend) => {
  it('counts usage durably across a crash and rotates the root for every process', async () => {
    const connect = await backend.setup();
    const root = RootKey.generate();
    const first = await openKeyring({ store: await connect(), clock, root }, { usageBlock: 10 });
    await first.createKey('orders');
    await first.putSecret('pki/root/key', Buffer.from('ca key'));
    for (let i = 0; i < 23; i++) await first.encryptionKey('orders');
    const material = (await first.decryptionKey('orders', 1)).key;

    // Another process on the same database, after the first one "crashed" without close().
    const store = await connect();
    const second = await openKeyring({ store, clock, root, logger: new MemoryLogger() }, { usageBlock: 10 });
    const [count] = (await second.getKey('orders')).versions.map((v) => v.encryptions);
    expect(count).toBeGreaterThanOrEqual(23);
    expect(count).toBeLessThanOrEqual(33);

    const newRoot = RootKey.generate();
    expect(await second.rotateRoot(newRoot)).toEqual({ keys: 1, versions: 1, secrets: 1 });
    const raw = (await rawRecords(store)).join(' ');
    expect(raw).not.toContain(parts(material));
    expect(await codeOf(openKeyring({ store: await connect(), clock, root }))).toBe('ERR_ROOT_KEY_WRONG');
    const third = await openKeyring({ store: await connect(), clock, root: newRoot });
    expect((await third.decryptionKey('orders', 1)).key.equals(material)).toBe(true);
    expect((await third.getSecret('pki/root/key'))?.toString()).toBe('ca key');
  });

  it('lets two processes write at once, and stops a stale one after a root rotation', async () => {
    const connect = await backend.setup();
    const root = RootKey.generate();
    const a = await openKeyring({ store: await connect(), clock, root });
    const b = await openKeyring({ store: await connect(), clock, root });
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).putSecret(`s${i}`, Buffer.from(`v${i}`))),
    );
    expect(await b.listSecrets('s')).toEqual(['s0', 's1', 's2', 's3', 's4', 's5']);
    await a.rotateRoot(RootKey.generate());
    expect(await codeOf(b.putSecret('late', Buffer.from('x')))).toBe('ERR_ROOT_KEY_WRONG');
    expect(await a.listSecrets()).not.toContain('late');
  });

  it('keeps every version under the limit when two processes encrypt at once', async () => {
    const connect = await backend.setup();
    const root = RootKey.generate();
    const options = { usageBlock: 3, maxEncryptionsPerVersion: 7 };
    const a = await openKeyring({ store: await connect(), clock, root }, options);
    const b = await openKeyring({ store: await connect(), clock, root }, options);
    await a.createKey('orders');
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a : b).encryptionKey('orders')),
    );
    const perVersion = new Map<number, number>();
    for (const { version } of results) perVersion.set(version, (perVersion.get(version) ?? 0) + 1);
    for (const used of perVersion.values()) expect(used).toBeLessThanOrEqual(7);
    const info = await a.getKey('orders');
    expect(info.latestVersion).toBeGreaterThanOrEqual(5);
    for (const v of info.versions.filter((v) => perVersion.has(v.version))) {
      expect(v.encryptions).toBeGreaterThanOrEqual(perVersion.get(v.version) ?? 0);
    }
  });
});

/** A distinctive slice of the material's hex form. */
function parts(material: Buffer): string {
  return material.toString('hex').slice(0, 24);
}
