import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  SqliteLeases,
  SqliteRecordStore,
  acquireFileLock,
  leaseFileName,
  openStorage,
} from '../../src/adapters/index.js';
import { loadConfig } from '../../src/config/index.js';
import { ManualClock, MemoryLogger, isGatehouseError } from '../../src/core/index.js';
import { recordStoreContract } from './record_store.contract.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gh-sqlite-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openErrorOf(file: string): { code: string; message: string } {
  try {
    SqliteRecordStore.open({ file, clock: new ManualClock(0), busyTimeoutMs: 100 }).close();
  } catch (err) {
    if (isGatehouseError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected open to fail');
}

recordStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-sqlite-contract-'));
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  const store = SqliteRecordStore.open({ file: join(dir, 'gatehouse.db'), clock, busyTimeoutMs: 5000 });
  return {
    store,
    clock,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteRecordStore', () => {
  it('creates a private WAL database with synchronous=FULL and keeps data across reopen', async () => {
    const file = join(tempDir(), 'gatehouse.db');
    const logger = new MemoryLogger();
    const store = SqliteRecordStore.open({ file, clock: new ManualClock(5), busyTimeoutMs: 100, logger });
    await store.write([{ op: 'insert', collection: 'c', key: 'k', value: { kept: true } }]);
    await store.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(logger.lines.filter((l) => l.msg === 'sqlite schema migrated')).toHaveLength(1);

    const again = SqliteRecordStore.open({ file, clock: new ManualClock(9), busyTimeoutMs: 100, logger });
    expect((await again.get('c', 'k'))?.value).toEqual({ kept: true });
    await again.close();
    // Reopening does not re-run migrations.
    expect(logger.lines.filter((l) => l.msg === 'sqlite schema migrated')).toHaveLength(1);

    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT version, applied_at FROM schema_migrations').all()).toEqual([
      { version: 1, applied_at: 5 },
    ]);
    db.close();
  });

  it('sets synchronous=FULL, foreign keys and the busy timeout on its connection', async () => {
    const file = join(tempDir(), 'gatehouse.db');
    const store = SqliteRecordStore.open({ file, clock: new ManualClock(0), busyTimeoutMs: 1234 });
    const db = (store as unknown as { db: Database.Database }).db;
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
    await store.close();
  });

  it('refuses a file that is not a SQLite database, naming the file', () => {
    const file = join(tempDir(), 'garbage.db');
    writeFileSync(file, 'this is not a database, just some text that is long enough '.repeat(100));
    const err = openErrorOf(file);
    expect(err.code).toBe('ERR_STORE_CORRUPT');
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/not a database/);
  });

  it('refuses a corrupt database', async () => {
    const file = join(tempDir(), 'gatehouse.db');
    const store = SqliteRecordStore.open({ file, clock: new ManualClock(0), busyTimeoutMs: 100 });
    await store.write([{ op: 'insert', collection: 'c', key: 'k', value: 'x'.repeat(10_000) }]);
    await store.close();
    // Checkpointed by close; now damage every page after the header page.
    const bytes = Buffer.alloc(statSync(file).size - 4096, 0xa5);
    const fd = openSync(file, 'r+');
    writeSync(fd, bytes, 0, bytes.length, 4096);
    closeSync(fd);
    const err = openErrorOf(file);
    expect(err.code).toBe('ERR_STORE_CORRUPT');
    expect(err.message).toContain(file);
  });

  it('refuses a database whose schema version is newer than the code', () => {
    const file = join(tempDir(), 'gatehouse.db');
    SqliteRecordStore.open({ file, clock: new ManualClock(0), busyTimeoutMs: 100 }).close();
    const db = new Database(file);
    db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)').run();
    db.close();
    const err = openErrorOf(file);
    expect(err.code).toBe('ERR_STORE_CORRUPT');
    expect(err.message).toContain(file);
    expect(err.message).toContain('schema version 99 is newer');
  });

  it("refuses a SQLite database that holds someone else's tables", () => {
    const file = join(tempDir(), 'other.db');
    const db = new Database(file);
    db.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY)');
    db.close();
    const err = openErrorOf(file);
    expect(err.code).toBe('ERR_STORE_CORRUPT');
    expect(err.message).toContain('not a gatehouse database');
  });

  it('reports a missing directory as unavailable and does not create it', () => {
    const file = join(tempDir(), 'missing', 'gatehouse.db');
    const err = openErrorOf(file);
    expect(err.code).toBe('ERR_STORE_UNAVAILABLE');
    expect(err.message).toContain('directory does not exist');
  });

  it('refuses work after close', async () => {
    const store = SqliteRecordStore.open({
      file: join(tempDir(), 'g.db'),
      clock: new ManualClock(0),
      busyTimeoutMs: 1,
    });
    await store.close();
    await expect(store.get('c', 'k')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
  });
});

describe('acquireFileLock (in process)', () => {
  it('refuses a second acquire in the same process until released', () => {
    const path = join(tempDir(), 'lock');
    const lock = acquireFileLock(path);
    expect(lock).toBeDefined();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(acquireFileLock(path)).toBeUndefined();
    lock?.release();
    lock?.release();
    const again = acquireFileLock(path);
    expect(again).toBeDefined();
    again?.release();
  });

  it('refuses a lock file that is not a SQLite database', () => {
    const path = join(tempDir(), 'lock');
    writeFileSync(path, 'garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage');
    expect(() => acquireFileLock(path)).toThrow(/not a database/);
  });
});

describe('SqliteLeases (in process)', () => {
  it('holds each name once, in files under its directory', async () => {
    const dir = join(tempDir(), 'leases');
    const leases = new SqliteLeases({ dir });
    const a = await leases.tryAcquire('rotation/signing keys');
    expect(a?.name).toBe('rotation/signing keys');
    expect(await leases.tryAcquire('rotation/signing keys')).toBeUndefined();
    expect(await new SqliteLeases({ dir }).tryAcquire('rotation/signing keys')).toBeUndefined();
    const b = await leases.tryAcquire('rotation_signing keys');
    expect(b).toBeDefined();
    await a?.release();
    const c = await leases.tryAcquire('rotation/signing keys');
    expect(c).toBeDefined();
    await leases.close();
    expect(await leases.tryAcquire('rotation_signing keys')).toBeDefined();
    await leases.close();
  });

  it('names lock files safely and distinctly', () => {
    expect(leaseFileName('a/b')).toMatch(/^a_b\.[0-9a-f]{8}\.lock$/);
    expect(leaseFileName('a/b')).not.toBe(leaseFileName('a_b'));
    expect(leaseFileName('../x')).not.toContain('/');
    expect(leaseFileName('..')).toMatch(/^_/);
  });
});

describe('openStorage (sqlite)', () => {
  it('opens the database in the data directory and leases under <dataDir>/leases', async () => {
    const dataDir = tempDir();
    const config = loadConfig({ overrides: { dataDir } });
    const storage = await openStorage(config, { clock: new ManualClock(0), logger: new MemoryLogger() });
    await storage.records.write([{ op: 'insert', collection: 'c', key: 'k', value: 1 }]);
    const lease = await storage.leases.tryAcquire('cleanup');
    expect(lease).toBeDefined();
    expect(existsSync(join(dataDir, 'gatehouse.db'))).toBe(true);
    expect(existsSync(join(dataDir, 'leases', leaseFileName('cleanup')))).toBe(true);
    await storage.close();
    // close() released the lease.
    const again = new SqliteLeases({ dir: join(dataDir, 'leases') });
    expect(await again.tryAcquire('cleanup')).toBeDefined();
    await again.close();
    const reopened = SqliteRecordStore.open({
      file: join(dataDir, 'gatehouse.db'),
      clock: new ManualClock(0),
      busyTimeoutMs: 1,
    });
    expect((await reopened.get('c', 'k'))?.value).toBe(1);
    await reopened.close();
  });
});
