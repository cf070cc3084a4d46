import { closeSync, constants, openSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import {
  GatehouseError,
  silentLogger,
  type Clock,
  type ListOptions,
  type Logger,
  type RecordStore,
  type SnapshotEntry,
  type StoredRecord,
  type WriteOp,
} from '../../core/index.js';
import { checkLimit, checkName, checkStep, checkWriteOps, decideWrite } from '../write_rules.js';
import { checkSnapshotEntry, restoreTargetInUse } from '../snapshot_rules.js';
import { sqliteError } from './errors.js';
import { migrateSqlite } from './migrations.js';

/** Options of {@link SqliteRecordStore.open}. */
export interface SqliteRecordStoreOptions {
  /** The database file; its directory must exist. Created with mode 0600 when missing. */
  file: string;
  clock: Clock;
  /** How long a writer waits for the write lock before ERR_STORE_UNAVAILABLE. */
  busyTimeoutMs: number;
  logger?: Logger;
}

interface Row {
  key: string;
  value: string;
  version: number;
  expires_at: number | null;
}

const SQL = {
  get: 'SELECT key, value, version, expires_at FROM records WHERE collection = ? AND key = ?',
  list: `SELECT key, value, version, expires_at FROM records
         WHERE collection = @collection AND (expires_at IS NULL OR expires_at > @now)
           AND (@prefix IS NULL OR (key >= @prefix AND substr(key, 1, length(@prefix)) = @prefix))
           AND (@after IS NULL OR key > @after)
         ORDER BY key LIMIT @limit`,
  put: `INSERT INTO records (collection, key, value, version, expires_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (collection, key) DO UPDATE
        SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at`,
  delete: 'DELETE FROM records WHERE collection = ? AND key = ?',
  increment: `INSERT INTO counters (collection, key, value) VALUES (?, ?, ?)
              ON CONFLICT (collection, key) DO UPDATE SET value = value + excluded.value RETURNING value`,
  counter: 'SELECT value FROM counters WHERE collection = ? AND key = ?',
  purge: 'DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= ?',
} as const;

type Statements = { [K in keyof typeof SQL]: Database.Statement };

/**
 * The embedded RecordStore: one SQLite file (better-sqlite3, WAL, synchronous=FULL so an acknowledged write survives
 * a crash or power loss), values as JSON text, versioned migrations applied at open. Every write is one IMMEDIATE
 * transaction. The port is async; the work is synchronous underneath.
 *
 * @example
 * const store = SqliteRecordStore.open({ file: '/var/lib/gatehouse/gatehouse.db', clock: systemClock, busyTimeoutMs: 5000 });
 */
export class SqliteRecordStore implements RecordStore {
  private readonly statements: Statements;
  private readonly writeAll: (ops: readonly WriteOp[], texts: Array<string | undefined>) => StoredRecord[];

  private constructor(
    private readonly db: Database.Database,
    private readonly file: string,
    private readonly clock: Clock,
  ) {
    this.statements = Object.fromEntries(
      Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)]),
    ) as Statements;
    const tx = db.transaction((ops: readonly WriteOp[], texts: Array<string | undefined>) => this.apply(ops, texts));
    this.writeAll = (ops, texts) => tx.immediate(ops, texts);
  }

  /**
   * Opens (creating when missing) the database, sets its pragmas and migrates it. A file that is not a SQLite
   * database, a corrupt one or one with a newer schema throws ERR_STORE_CORRUPT naming the file.
   */
  static open(options: SqliteRecordStoreOptions): SqliteRecordStore {
    const { file, clock } = options;
    const logger = options.logger ?? silentLogger;
    createPrivateFile(file);
    let db: Database.Database | undefined;
    try {
      db = new Database(file, { timeout: options.busyTimeoutMs });
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new GatehouseError('ERR_STORE_UNAVAILABLE', { message: `${file}: WAL mode refused` });
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrateSqlite(db, { file, clock, logger });
      return new SqliteRecordStore(db, file, clock);
    } catch (err) {
      db?.close();
      throw sqliteError(err, file);
    }
  }

  async get<T = unknown>(collection: string, key: string): Promise<StoredRecord<T> | undefined> {
    checkName(collection, key);
    const row = this.run(() => this.statements.get.get(collection, key) as Row | undefined);
    if (!row || (row.expires_at !== null && row.expires_at <= this.clock.now())) return undefined;
    return toRecord<T>(collection, row);
  }

  async list<T = unknown>(collection: string, options: ListOptions = {}): Promise<Array<StoredRecord<T>>> {
    checkName(collection);
    checkLimit(options.limit);
    const params = {
      collection,
      now: this.clock.now(),
      prefix: options.prefix ?? null,
      after: options.after ?? null,
      limit: options.limit ?? -1,
    };
    const rows = this.run(() => this.statements.list.all(params) as Row[]);
    return rows.map((row) => toRecord<T>(collection, row));
  }

  async write(ops: readonly WriteOp[]): Promise<StoredRecord[]> {
    const texts = checkWriteOps(ops);
    if (ops.length === 0) return [];
    return this.run(() => this.writeAll(ops, texts));
  }

  async increment(collection: string, key: string, by: number): Promise<number> {
    checkName(collection, key);
    checkStep(by);
    return this.run(() => this.statements.increment.pluck().get(collection, key, by) as number);
  }

  async counter(collection: string, key: string): Promise<number> {
    checkName(collection, key);
    return this.run(() => (this.statements.counter.pluck().get(collection, key) as number | undefined) ?? 0);
  }

  async purgeExpired(): Promise<number> {
    return this.run(() => this.statements.purge.run(this.clock.now()).changes);
  }

  /**
   * `VACUUM INTO` a private file beside the database (one consistent read of the whole database, done before the
   * first entry is yielded), then streams the copy's live records and counters and removes it.
   */
  async *snapshot(): AsyncIterable<SnapshotEntry> {
    const copy = join(dirname(this.file), `.${basename(this.file)}.snapshot-${randomBytes(6).toString('hex')}`);
    const now = this.clock.now();
    let db: Database.Database | undefined;
    try {
      createPrivateFile(copy); // an empty 0600 file: VACUUM INTO fills it and keeps its mode
      this.run(() => this.db.prepare('VACUUM INTO ?').run(copy));
      db = new Database(copy, { readonly: true });
      const records = db.prepare(
        'SELECT collection, key, value, version, expires_at FROM records WHERE expires_at IS NULL OR expires_at > ?',
      );
      for (const row of records.iterate(now) as Iterable<Row & { collection: string }>) {
        yield { kind: 'record', ...toRecord(row.collection, row) };
      }
      const counters = db.prepare('SELECT collection, key, value FROM counters');
      for (const row of counters.iterate() as Iterable<{ collection: string; key: string; value: number }>) {
        yield { kind: 'counter', collection: row.collection, key: row.key, value: row.value };
      }
    } finally {
      db?.close();
      rmSync(copy, { force: true });
    }
  }

  /** One IMMEDIATE transaction around the whole load (the store is offline while it restores). */
  async restore(entries: AsyncIterable<SnapshotEntry>): Promise<{ records: number; counters: number }> {
    const counts = { records: 0, counters: 0 };
    this.run(() => this.db.exec('BEGIN IMMEDIATE'));
    try {
      const used = this.run(
        () => this.db.prepare('SELECT 1 FROM records UNION ALL SELECT 1 FROM counters LIMIT 1').get() !== undefined,
      );
      if (used) throw restoreTargetInUse();
      const counter = this.db.prepare('INSERT INTO counters (collection, key, value) VALUES (?, ?, ?)');
      for await (const entry of entries) {
        const text = checkSnapshotEntry(entry);
        if (entry.kind === 'counter') {
          this.run(() => counter.run(entry.collection, entry.key, entry.value));
          counts.counters += 1;
        } else {
          this.run(() => this.statements.put.run(entry.collection, entry.key, text, entry.version, entry.expiresAt));
          counts.records += 1;
        }
      }
      this.run(() => this.db.exec('COMMIT'));
      return counts;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private apply(ops: readonly WriteOp[], texts: Array<string | undefined>): StoredRecord[] {
    const now = this.clock.now();
    const results: StoredRecord[] = [];
    ops.forEach((op, i) => {
      const row = this.statements.get.get(op.collection, op.key) as Row | undefined;
      const current = row && { version: row.version, expiresAt: row.expires_at };
      const outcome = decideWrite(op, current, now);
      if (outcome.action === 'delete') this.statements.delete.run(op.collection, op.key);
      if (outcome.action !== 'put') return;
      const text = texts[i] as string;
      this.statements.put.run(op.collection, op.key, text, outcome.version, outcome.expiresAt);
      results.push({
        collection: op.collection,
        key: op.key,
        value: JSON.parse(text),
        version: outcome.version,
        expiresAt: outcome.expiresAt,
      });
    });
    return results;
  }

  private run<R>(work: () => R): R {
    if (!this.db.open) throw new GatehouseError('ERR_STORE_UNAVAILABLE', { message: `${this.file}: store is closed` });
    try {
      return work();
    } catch (err) {
      throw sqliteError(err, this.file);
    }
  }
}

/** Creates `file` with mode 0600 if it does not exist (SQLite gives its -wal and -shm files the same mode). */
function createPrivateFile(file: string): void {
  try {
    closeSync(openSync(file, constants.O_RDWR | constants.O_CREAT, 0o600));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const reason = code === 'ENOENT' ? 'its directory does not exist' : `cannot be opened (${code})`;
    throw new GatehouseError('ERR_STORE_UNAVAILABLE', { message: `${file}: ${reason}`, cause: err });
  }
}

function toRecord<T>(collection: string, row: Row): StoredRecord<T> {
  return {
    collection,
    key: row.key,
    value: JSON.parse(row.value) as T,
    version: row.version,
    expiresAt: row.expires_at,
  };
}
