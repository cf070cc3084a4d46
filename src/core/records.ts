/**
 * The storage port every domain builds its repositories on: named collections of JSON records with a version per
 * record, optional expiry, atomic multi-record writes with preconditions, and atomic counters.
 *
 * Adapters: MemoryRecordStore (tests), SqliteRecordStore (embedded default), PostgresRecordStore (replicas). One
 * contract suite (test/adapters/record_store.contract.ts) runs against all three.
 *
 * Semantics every adapter keeps:
 * - A record whose `expiresAt` (ms epoch) is at or before the store clock's now is invisible: get and list skip it,
 *   insert treats its key as free, update treats it as missing. `purgeExpired` removes such records for good.
 * - `write` applies all its operations or none. A failed precondition throws ERR_STORE_CONFLICT (insert over a live
 *   record, update/delete with a stale `expectVersion`) or ERR_STORE_NOT_FOUND (update of a missing record, delete of a
 *   missing record when `expectVersion` is given).
 * - Versions start at 1 and grow by one on every update or upsert of a live record.
 * - An acknowledged write is durable (fsync on SQLite, commit on PostgreSQL).
 *
 * @example
 * await store.write([{ op: 'insert', collection: 'kms_keys', key: 'orders', value: { type: 'aes256-gcm96' } }]);
 * const rec = await store.get<{ type: string }>('kms_keys', 'orders');
 */
export interface RecordStore {
  get<T = unknown>(collection: string, key: string): Promise<StoredRecord<T> | undefined>;
  /** Live records of a collection ordered by key (byte order), optionally under a key prefix, after a key, limited. */
  list<T = unknown>(collection: string, options?: ListOptions): Promise<Array<StoredRecord<T>>>;
  /** Applies every operation atomically; returns the stored records of non-delete operations in order. */
  write(ops: readonly WriteOp[]): Promise<StoredRecord[]>;
  /** Atomically adds `by` to a counter (created at 0) and returns the new value. Counters never expire. */
  increment(collection: string, key: string, by: number): Promise<number>;
  /** Reads a counter (0 when absent). */
  counter(collection: string, key: string): Promise<number>;
  /** Removes expired records; returns how many. */
  purgeExpired(): Promise<number>;
  /**
   * Every live record and every counter, read in ONE consistent read (a point-in-time view; writes that commit while
   * the iteration runs are not seen). Optional: the backup needs it, every adapter of this package implements it.
   */
  snapshot?(): AsyncIterable<SnapshotEntry>;
  /**
   * Loads a snapshot into an EMPTY store in one transaction, keeping versions and expiries; refuses a store that holds
   * any record or counter (ERR_RESTORE_TARGET_IN_USE). Returns how many records and counters it wrote.
   */
  restore?(entries: AsyncIterable<SnapshotEntry>): Promise<{ records: number; counters: number }>;
  close(): Promise<void>;
}

export interface StoredRecord<T = unknown> {
  collection: string;
  key: string;
  value: T;
  version: number;
  /** Expiry as ms since the epoch, or null for never. */
  expiresAt: number | null;
}

/** One line of a snapshot: a record (with its version and expiry) or a counter. */
export type SnapshotEntry =
  | { kind: 'record'; collection: string; key: string; value: unknown; version: number; expiresAt: number | null }
  | { kind: 'counter'; collection: string; key: string; value: number };

export interface ListOptions {
  prefix?: string;
  /** Only keys strictly greater than this one (for paging). */
  after?: string;
  limit?: number;
}

export type WriteOp =
  | { op: 'insert'; collection: string; key: string; value: unknown; expiresAt?: number | null }
  | {
      op: 'update';
      collection: string;
      key: string;
      value: unknown;
      expectVersion?: number;
      expiresAt?: number | null;
    }
  | { op: 'upsert'; collection: string; key: string; value: unknown; expiresAt?: number | null }
  | { op: 'delete'; collection: string; key: string; expectVersion?: number };

/** Collection and key names: printable, bounded, so that adapters can index them. */
export const RECORD_NAME_LIMITS = { collection: 64, key: 512 } as const;
