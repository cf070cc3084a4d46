// A minimal, faithful in-test RecordStore for the pki tests (JSON round trip, versions, insert/update preconditions,
// all-or-nothing writes). Delete once MemoryRecordStore from src/adapters is committed, and use that instead.
import { GatehouseError, type RecordStore, type StoredRecord, type WriteOp } from '../../src/core/index.js';

interface Row {
  text: string;
  version: number;
}

export class TestRecordStore implements RecordStore {
  private readonly rows = new Map<string, Row>();
  private readonly counters = new Map<string, number>();

  private static id(collection: string, key: string): string {
    return JSON.stringify([collection, key]);
  }

  async get<T = unknown>(collection: string, key: string): Promise<StoredRecord<T> | undefined> {
    const row = this.rows.get(TestRecordStore.id(collection, key));
    return row && { collection, key, value: JSON.parse(row.text) as T, version: row.version, expiresAt: null };
  }

  async list<T = unknown>(collection: string): Promise<Array<StoredRecord<T>>> {
    const out: Array<StoredRecord<T>> = [];
    for (const [id, row] of [...this.rows].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const [c, key] = JSON.parse(id) as [string, string];
      if (c === collection)
        out.push({ collection, key, value: JSON.parse(row.text) as T, version: row.version, expiresAt: null });
    }
    return out;
  }

  async write(ops: readonly WriteOp[]): Promise<StoredRecord[]> {
    const staged = new Map(this.rows);
    const results: StoredRecord[] = [];
    for (const op of ops) {
      const id = TestRecordStore.id(op.collection, op.key);
      const current = staged.get(id);
      if (op.op === 'delete') {
        if (op.expectVersion !== undefined && current?.version !== op.expectVersion) {
          throw new GatehouseError(current ? 'ERR_STORE_CONFLICT' : 'ERR_STORE_NOT_FOUND');
        }
        staged.delete(id);
        continue;
      }
      if (op.op === 'insert' && current) throw new GatehouseError('ERR_STORE_CONFLICT');
      if (op.op === 'update' && !current) throw new GatehouseError('ERR_STORE_NOT_FOUND');
      if (op.op === 'update' && op.expectVersion !== undefined && current?.version !== op.expectVersion) {
        throw new GatehouseError('ERR_STORE_CONFLICT');
      }
      const row = { text: JSON.stringify(op.value), version: (current?.version ?? 0) + 1 };
      staged.set(id, row);
      results.push({
        collection: op.collection,
        key: op.key,
        value: JSON.parse(row.text),
        version: row.version,
        expiresAt: null,
      });
    }
    this.rows.clear();
    for (const [id, row] of staged) this.rows.set(id, row);
    return results;
  }

  async increment(collection: string, key: string, by: number): Promise<number> {
    const id = TestRecordStore.id(collection, key);
    const value = (this.counters.get(id) ?? 0) + by;
    this.counters.set(id, value);
    return value;
  }

  async counter(collection: string, key: string): Promise<number> {
    return this.counters.get(TestRecordStore.id(collection, key)) ?? 0;
  }

  async purgeExpired(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {}
}
