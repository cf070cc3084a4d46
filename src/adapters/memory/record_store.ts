import {
  GatehouseError,
  type Clock,
  type ListOptions,
  type RecordStore,
  type SnapshotEntry,
  type StoredRecord,
  type WriteOp,
} from '../../core/index.js';
import { checkLimit, checkName, checkStep, checkWriteOps, decideWrite, isLive } from '../write_rules.js';
import { checkSnapshotEntry, restoreTargetInUse } from '../snapshot_rules.js';

interface Row {
  text: string;
  version: number;
  expiresAt: number | null;
}

/**
 * A RecordStore in process memory, for tests and single-process tools. Values are stored as JSON text, so what comes
 * back is a copy with exactly the round trip of the database adapters.
 *
 * @example
 * const store = new MemoryRecordStore({ clock: new ManualClock(0) });
 * await store.write([{ op: 'insert', collection: 'c', key: 'k', value: { a: 1 } }]);
 */
export class MemoryRecordStore implements RecordStore {
  private readonly clock: Clock;
  private readonly collections = new Map<string, Map<string, Row>>();
  private readonly counters = new Map<string, number>();
  private closed = false;

  constructor(options: { clock: Clock }) {
    this.clock = options.clock;
  }

  async get<T = unknown>(collection: string, key: string): Promise<StoredRecord<T> | undefined> {
    this.checkOpen();
    checkName(collection, key);
    const row = this.collections.get(collection)?.get(key);
    return isLive(row, this.clock.now()) ? toRecord<T>(collection, key, row) : undefined;
  }

  async list<T = unknown>(collection: string, options: ListOptions = {}): Promise<Array<StoredRecord<T>>> {
    this.checkOpen();
    checkName(collection);
    checkLimit(options.limit);
    const now = this.clock.now();
    const { prefix, after } = options;
    const rows = [...(this.collections.get(collection) ?? new Map<string, Row>())]
      .filter(([key, row]) => isLive(row, now) && (prefix === undefined || key.startsWith(prefix)))
      .filter(([key]) => after === undefined || compareKeys(key, after) > 0)
      .sort(([a], [b]) => compareKeys(a, b));
    const limited = options.limit === undefined ? rows : rows.slice(0, options.limit);
    return limited.map(([key, row]) => toRecord<T>(collection, key, row));
  }

  async write(ops: readonly WriteOp[]): Promise<StoredRecord[]> {
    this.checkOpen();
    const texts = checkWriteOps(ops);
    const now = this.clock.now();
    // Stage every change first: if any precondition fails nothing has been applied.
    const staged = new Map<string, { collection: string; key: string; row: Row | undefined }>();
    const results: StoredRecord[] = [];
    ops.forEach((op, i) => {
      const id = JSON.stringify([op.collection, op.key]);
      const current = staged.has(id) ? staged.get(id)?.row : this.collections.get(op.collection)?.get(op.key);
      const outcome = decideWrite(op, current, now);
      if (outcome.action === 'none') return;
      const row =
        outcome.action === 'delete'
          ? undefined
          : { text: texts[i] as string, version: outcome.version, expiresAt: outcome.expiresAt };
      staged.set(id, { collection: op.collection, key: op.key, row });
      if (row) results.push(toRecord(op.collection, op.key, row));
    });
    for (const { collection, key, row } of staged.values()) {
      const rows = this.collections.get(collection) ?? new Map<string, Row>();
      this.collections.set(collection, rows);
      if (row) rows.set(key, row);
      else rows.delete(key);
    }
    return results;
  }

  async increment(collection: string, key: string, by: number): Promise<number> {
    this.checkOpen();
    checkName(collection, key);
    checkStep(by);
    const id = JSON.stringify([collection, key]);
    const value = (this.counters.get(id) ?? 0) + by;
    this.counters.set(id, value);
    return value;
  }

  async counter(collection: string, key: string): Promise<number> {
    this.checkOpen();
    checkName(collection, key);
    return this.counters.get(JSON.stringify([collection, key])) ?? 0;
  }

  async purgeExpired(): Promise<number> {
    this.checkOpen();
    const now = this.clock.now();
    let purged = 0;
    for (const rows of this.collections.values()) {
      for (const [key, row] of rows) {
        if (!isLive(row, now)) {
          rows.delete(key);
          purged += 1;
        }
      }
    }
    return purged;
  }

  /** A copy taken synchronously, so no write interleaves: consistent by construction. */
  async *snapshot(): AsyncIterable<SnapshotEntry> {
    this.checkOpen();
    const now = this.clock.now();
    const entries: SnapshotEntry[] = [];
    for (const [collection, rows] of this.collections) {
      for (const [key, row] of rows) {
        if (!isLive(row, now)) continue;
        const value: unknown = JSON.parse(row.text);
        entries.push({ kind: 'record', collection, key, value, version: row.version, expiresAt: row.expiresAt });
      }
    }
    for (const [id, value] of this.counters) {
      const [collection, key] = JSON.parse(id) as [string, string];
      entries.push({ kind: 'counter', collection, key, value });
    }
    yield* entries;
  }

  async restore(entries: AsyncIterable<SnapshotEntry>): Promise<{ records: number; counters: number }> {
    this.checkOpen();
    if ([...this.collections.values()].some((rows) => rows.size > 0) || this.counters.size > 0) {
      throw restoreTargetInUse();
    }
    const rows: Array<[string, string, Row]> = [];
    const counters: Array<[string, number]> = [];
    for await (const entry of entries) {
      const text = checkSnapshotEntry(entry);
      if (entry.kind === 'counter') counters.push([JSON.stringify([entry.collection, entry.key]), entry.value]);
      else rows.push([entry.collection, entry.key, { text, version: entry.version, expiresAt: entry.expiresAt }]);
    }
    for (const [collection, key, row] of rows) {
      const map = this.collections.get(collection) ?? new Map<string, Row>();
      this.collections.set(collection, map);
      map.set(key, row);
    }
    for (const [id, value] of counters) this.counters.set(id, value);
    return { records: rows.length, counters: counters.length };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new GatehouseError('ERR_STORE_UNAVAILABLE', { message: 'the record store is closed' });
  }
}

/** Byte order of the UTF-8 encodings, the order SQLite and PostgreSQL (COLLATE "C") use. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function toRecord<T>(collection: string, key: string, row: Row): StoredRecord<T> {
  return { collection, key, value: JSON.parse(row.text) as T, version: row.version, expiresAt: row.expiresAt };
}
